"""Figures about the plays themselves (before any model).

The label here is computed straight from the plays with pandas, by the rule of
:mod:`models.labels` (a counted play is positive if the same listener plays the same
track again within the horizon; plays shorter than ``min_play_ms`` where the duration
is known do not count; a play is labelled only when its whole horizon lies inside the
data). It is an independent reading of the same rule: the report shows its positive
rate beside the evaluator's.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent
>>> t0 = datetime(2024, 3, 1, tzinfo=UTC)
>>> def play(track, days, ms=None):
...     return PlayEvent(user_id="ana", track_id=track, ms_played=ms,
...                      played_at=t0 + timedelta(days=days))
>>> frame = plays_frame([play("a", 0), play("a", 2), play("a", 2), play("b", 3, ms=5_000),
...                      play("b", 4), play("a", 80)])
>>> len(frame), int(frame["counted"].sum())  # the duplicate is dropped, the 5 s play not counted
(5, 4)
>>> hist = pair_history(frame)
>>> hist[["track_id", "past_plays", "label", "labelled"]].values.tolist()
[['a', 0, True, True], ['a', 1, False, True], ['b', 0, False, True], ['a', 2, False, False]]
>>> hist["since_last_s"].isna().tolist()
[True, False, True, False]
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from models.events import PlayEvent
from models.features import DAY
from models.settings import ModelSettings
from report.figure import (
    PALETTE,
    ReportFigure,
    fmt_int,
    fmt_pct,
    new_figure,
    save,
    style_axes,
)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: Bins of the number of earlier counted plays of the (listener, track) pair.
PAST_PLAY_BINS: tuple[tuple[int, int, str], ...] = (
    (0, 0, "0"),
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 4, "3-4"),
    (5, 9, "5-9"),
    (10, 19, "10-19"),
    (20, 49, "20-49"),
    (50, 99, "50-99"),
    (100, 10**12, "100+"),
)

#: Bins of the days since the pair's previous counted play: (low, high] in days.
SINCE_LAST_BINS: tuple[tuple[float, float, str], ...] = (
    (-1e-9, 1 / 24, "<1 h"),
    (1 / 24, 1.0, "1 h-1 d"),
    (1.0, 3.0, "1-3 d"),
    (3.0, 7.0, "3-7 d"),
    (7.0, 14.0, "7-14 d"),
    (14.0, 30.0, "14-30 d"),
    (30.0, 90.0, "30-90 d"),
    (90.0, np.inf, "90+ d"),
)


def plays_frame(events: Iterable[PlayEvent], settings: ModelSettings | None = None) -> pd.DataFrame:
    """One row per distinct play (by event id), in event-time order.

    Columns: ``user_id``, ``track_id``, ``ts`` (POSIX s), ``time`` (UTC),
    ``ms_played`` (float, NaN when unknown), ``counted`` (not shorter than
    ``min_play_ms`` where the duration is known). ``events`` is read once (a
    :class:`~models.play_log.PlayLog` rebuilds each play as it goes).
    """
    cfg = settings or ModelSettings()
    event_ids: list[str] = []
    users: list[str] = []
    tracks: list[str] = []
    ts, ms = array("d"), array("d")
    for e in events:
        event_ids.append(e.event_id)
        users.append(e.user_id)
        tracks.append(e.track_id)
        ts.append(e.ts)
        ms.append(math.nan if e.ms_played is None else float(e.ms_played))
    frame = pd.DataFrame(
        {
            "event_id": event_ids,
            "user_id": users,
            "track_id": tracks,
            "ts": np.frombuffer(ts, dtype=float),
            "ms_played": np.frombuffer(ms, dtype=float),
        }
    )
    frame = frame.drop_duplicates("event_id", keep="first")
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    frame["time"] = pd.to_datetime(frame["ts"], unit="s", utc=True)
    frame["counted"] = frame["ms_played"].isna() | (frame["ms_played"] >= cfg.min_play_ms)
    return frame


def pair_history(frame: pd.DataFrame, settings: ModelSettings | None = None) -> pd.DataFrame:
    """Counted plays with their pair history and label, in event-time order.

    Adds ``past_plays`` (earlier counted plays of the pair), ``since_last_s``
    (seconds since the pair's previous counted play, NaN for the first), ``label``
    (replayed in ``(t, t + horizon]``) and ``labelled`` (``t + horizon`` is not after
    the latest event of the input).
    """
    cfg = settings or ModelSettings()
    horizon = cfg.horizon_days * DAY
    end = float(frame["ts"].max()) if len(frame) else 0.0
    plays = frame.loc[frame["counted"], ["user_id", "track_id", "ts", "time"]].copy()
    pair = plays.groupby(["user_id", "track_id"], sort=False).ngroup().to_numpy()
    ts = plays["ts"].to_numpy()
    order = np.lexsort((ts, pair))
    p, t = pair[order], ts[order]
    n = len(order)
    # Next strictly later play of the same pair: first index after the run of equal (pair, ts).
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = (p[1:] != p[:-1]) | (t[1:] != t[:-1])
    run_id = np.cumsum(new_run) - 1
    run_last = np.zeros(run_id.max() + 1 if n else 0, dtype=int)
    run_last[run_id] = np.arange(n)
    nxt = run_last[run_id] + 1
    has_next = nxt < n
    nxt_c = np.minimum(nxt, max(n - 1, 0))
    has_next &= p[nxt_c] == p
    next_gap = np.where(has_next, t[nxt_c] - t, np.inf)
    new_pair = np.ones(n, dtype=bool)
    new_pair[1:] = p[1:] != p[:-1]
    first_of_pair = np.maximum.accumulate(np.where(new_pair, np.arange(n), 0))
    past = np.arange(n) - first_of_pair
    since = np.full(n, np.nan)
    since[~new_pair] = (t[1:] - t[:-1])[~new_pair[1:]]

    cols = {"past_plays": past, "since_last_s": since, "label": next_gap <= horizon}
    for name, values in cols.items():
        full = np.empty(n, dtype=values.dtype)
        full[order] = values
        plays[name] = full
    plays["labelled"] = plays["ts"].to_numpy() + horizon <= end
    return plays.reset_index(drop=True)


def _log_bins(values: np.ndarray, per_decade: int = 8) -> np.ndarray:
    """Log-spaced bin edges for positive integer counts, each edge half-way between integers.

    >>> _log_bins(np.array([1, 3, 40])).tolist()
    [0.5, 1.5, 2.5, 3.5, 5.5, 6.5, 9.5, 12.5, 16.5, 22.5, 30.5, 40.5]
    """
    top = max(float(values.max()), 1.0) + 1
    steps = max(2, int(np.ceil(np.log10(top) * per_decade)) + 1)
    return np.unique(np.round(np.logspace(0, np.log10(top), steps))) - 0.5


def fig_plays_per_entity(frame: pd.DataFrame, out_dir: Path) -> ReportFigure:
    """Plays per listener and per track: log-binned histograms on log-log axes."""
    fig = new_figure(10, 4)
    axes = fig.subplots(1, 2)
    numbers: dict[str, str] = {}
    for ax, key, who, colour in zip(
        axes, ("user_id", "track_id"), ("listener", "track"), PALETTE[:2], strict=True
    ):
        counts = frame.groupby(key).size().to_numpy()
        ax.hist(counts, bins=_log_bins(counts), color=colour, edgecolor="white", linewidth=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        med = float(np.median(counts))
        ax.axvline(med, color="black", linestyle="--", linewidth=1)
        ax.text(med, 0.97, f" median {med:,.0f}", transform=ax.get_xaxis_transform(), va="top", fontsize=9)
        ax.set_xlabel(f"plays per {who} (log scale)")
        ax.set_ylabel(f"{who}s (log scale)")
        ax.set_title(f"Plays per {who} ({fmt_int(len(counts))} {who}{'s' if len(counts) != 1 else ''})")
        style_axes(ax)
        top10 = np.sort(counts)[::-1][: max(1, len(counts) // 10)].sum() / counts.sum()
        numbers[f"{who}s"] = fmt_int(len(counts))
        numbers[f"plays per {who}: median / mean / max"] = (
            f"{med:,.0f} / {counts.mean():,.0f} / {counts.max():,}"
        )
        numbers[f"share of plays from the top 10% of {who}s"] = fmt_pct(top10)
    fig.suptitle("How plays spread over listeners and tracks")
    save(fig, out_dir, "plays_per_entity")
    return ReportFigure(
        "plays_per_entity.png",
        "Plays per listener and per track",
        "Histograms with logarithmic bins on log-log axes; the dashed line is the median.",
        numbers,
    )


def fig_listening_over_time(
    frame: pd.DataFrame, out_dir: Path, split_time: float | None, horizon_days: int
) -> ReportFigure:
    """Plays and active listeners per week; the test window and the unlabelled tail shaded."""
    weekly = frame.set_index("time").resample("W-MON", label="left", closed="left")
    plays = weekly.size()
    listeners = weekly["user_id"].nunique()
    fig = new_figure(10, 4)
    ax = fig.subplots()
    ax.bar(plays.index, plays.to_numpy(), width=6, color=PALETTE[0], alpha=0.8, label="plays per week")
    ax.set_ylabel("plays per week")
    ax.set_xlabel("week (UTC)")
    style_axes(ax)
    ax2 = ax.twinx()
    ax2.plot(listeners.index, listeners.to_numpy(), color=PALETTE[1], linewidth=2, label="active listeners")
    ax2.set_ylabel("listeners with a play that week")
    ax2.set_ylim(0, max(1, listeners.max()) * 1.15)
    ax2.spines["top"].set_visible(False)
    end = frame["time"].max()
    tail = end - pd.Timedelta(days=horizon_days)
    ax.axvspan(tail, end, color="grey", alpha=0.2, label=f"last {horizon_days} d: labels unknown")
    numbers = {
        "first play (UTC)": f"{frame['time'].min():%Y-%m-%d %H:%M}",
        "last play (UTC)": f"{end:%Y-%m-%d %H:%M}",
        "span": f"{(frame['ts'].max() - frame['ts'].min()) / DAY:,.0f} days",
        "plays per week: median / max": f"{plays.median():,.0f} / {plays.max():,}",
        "active listeners per week: median / max": f"{listeners.median():,.0f} / {listeners.max():,}",
    }
    if split_time is not None:
        split = pd.Timestamp(split_time, unit="s", tz="UTC")
        ax.axvline(split, color="black", linestyle="--", linewidth=1.2, label="temporal split (test after)")
        numbers["temporal split (UTC)"] = f"{split:%Y-%m-%d %H:%M}"
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper left", fontsize=8)
    ax.set_title("Listening over time")
    save(fig, out_dir, "listening_over_time")
    return ReportFigure(
        "listening_over_time.png",
        "Listening over time",
        "Plays per week (bars) and listeners active that week (line). After the dashed line is the "
        "evaluation's test window; the grey tail is too recent for its labels to be known.",
        numbers,
    )


def fig_hour_weekday(frame: pd.DataFrame, out_dir: Path, note: str | None = None) -> ReportFigure:
    """Share of plays by hour of day x day of week (UTC)."""
    import seaborn as sns

    hours = frame["time"].dt.hour
    days = frame["time"].dt.day_of_week
    table = pd.crosstab(days, hours).reindex(index=range(7), columns=range(24), fill_value=0)
    share = 100 * table / max(1, table.to_numpy().sum())
    fig = new_figure(11, 4)
    ax = fig.subplots()
    sns.heatmap(
        share,
        ax=ax,
        cmap="rocket_r",
        cbar_kws={"label": "% of all plays"},
        yticklabels=list(WEEKDAYS),
        xticklabels=[f"{h:02d}" for h in range(24)],
        linewidths=0.3,
        linecolor="white",
    )
    ax.set_xlabel("hour of day (UTC)")
    ax.set_ylabel("day of week (UTC)")
    ax.set_title("When plays happen: hour of day x day of week")
    by_hour = table.sum(axis=0)
    by_day = table.sum(axis=1)
    numbers = {
        "busiest hour (UTC)": f"{int(by_hour.idxmax()):02d}:00 ({fmt_pct(by_hour.max() / by_hour.sum())})",
        "quietest hour (UTC)": f"{int(by_hour.idxmin()):02d}:00 ({fmt_pct(by_hour.min() / by_hour.sum())})",
        "busiest day": f"{WEEKDAYS[int(by_day.idxmax())]} ({fmt_pct(by_day.max() / by_day.sum())})",
        "quietest day": f"{WEEKDAYS[int(by_day.idxmin())]} ({fmt_pct(by_day.min() / by_day.sum())})",
    }
    caption = "Share of all plays per cell. Times are UTC; listeners' own time zones are not known."
    if note:
        caption += " " + note
    save(fig, out_dir, "hour_weekday")
    return ReportFigure("hour_weekday.png", "Hour of day x day of week", caption, numbers)


def fig_short_plays(
    frame: pd.DataFrame, out_dir: Path, settings: ModelSettings | None = None
) -> ReportFigure:
    """Share of plays under the minimum duration, where the duration is known."""
    cfg = settings or ModelSettings()
    limit_s = cfg.min_play_ms / 1000
    known = frame["ms_played"].dropna()
    numbers = {
        "plays with a known duration": f"{fmt_int(len(known))} of {fmt_int(len(frame))}",
    }
    if known.empty:
        fig = new_figure(8, 3)
        ax = fig.subplots()
        ax.axis("off")
        ax.text(
            0.5,
            0.5,
            f"No play in this input says how long it played (ms_played unknown for all "
            f"{len(frame):,} plays),\nso the share under {limit_s:.0f} s cannot be measured: "
            "every play counts.",
            ha="center",
            va="center",
            fontsize=11,
            wrap=True,
        )
        ax.set_title(f"Plays under {limit_s:.0f} s")
        numbers[f"share under {limit_s:.0f} s"] = "unknown"
    else:
        secs = known.to_numpy() / 1000
        short = float((secs < limit_s).mean())
        fig = new_figure(11, 4)
        ax, ax2 = fig.subplots(1, 2, width_ratios=[3, 2])
        bins = np.logspace(-1, np.log10(max(secs.max(), 10)) + 1e-9, 50)
        ax.hist(np.clip(secs, 0.1, None), bins=bins, color=PALETTE[0], edgecolor="white", linewidth=0.4)
        ax.axvline(limit_s, color=PALETTE[3], linestyle="--", linewidth=1.5)
        ax.text(
            limit_s,
            0.97,
            f" {limit_s:.0f} s: {fmt_pct(short)} of plays below",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=9,
            color=PALETTE[3],
        )
        ax.set_xscale("log")
        ax.set_xlabel("time played per play (s, log scale; 0 s shown at 0.1 s)")
        ax.set_ylabel("plays")
        ax.set_title("How long plays last")
        style_axes(ax)
        per_user = (
            frame.dropna(subset=["ms_played"])
            .assign(short=lambda f: f["ms_played"] < cfg.min_play_ms)
            .groupby("user_id")["short"]
            .agg(["mean", "size"])
            .sort_values("size", ascending=False)
            .head(20)
        )
        ax2.barh(range(len(per_user)), 100 * per_user["mean"].to_numpy(), color=PALETTE[1])
        ax2.set_yticks(range(len(per_user)), [str(u)[:14] for u in per_user.index], fontsize=8)
        ax2.invert_yaxis()
        ax2.set_xlabel(f"% of the listener's plays under {limit_s:.0f} s")
        ax2.set_title("Per listener (most plays first)")
        style_axes(ax2)
        numbers[f"share under {limit_s:.0f} s (of known)"] = fmt_pct(short)
        numbers["median time played"] = f"{np.median(secs):,.0f} s"
    save(fig, out_dir, "short_plays")
    return ReportFigure(
        "short_plays.png",
        f"Plays under {limit_s:.0f} s",
        f"Plays shorter than {limit_s:.0f} s are not streams (Spotify's rule): they feed the skip "
        "signals but are neither examples nor replays.",
        numbers,
    )


def _rate_by_bins(
    values: np.ndarray, labels: np.ndarray, bins: Sequence[tuple[float, float, str]], closed_low: bool
) -> pd.DataFrame:
    rows = []
    for lo, hi, name in bins:
        sel = (values >= lo) & (values <= hi) if closed_low else (values > lo) & (values <= hi)
        n = int(sel.sum())
        rows.append((name, n, float(labels[sel].mean()) if n else np.nan))
    return pd.DataFrame(rows, columns=["bin", "n", "rate"])


def _rate_bars(ax: Axes, table: pd.DataFrame, overall: float, colour: str) -> None:
    """Rate per bin as bars (value on top, bin size inside), overall rate dashed."""
    x = np.arange(len(table))
    ax.bar(x, 100 * table["rate"].fillna(0).to_numpy(), color=colour, width=0.7)
    for xi, (rate, n) in enumerate(zip(table["rate"], table["n"], strict=True)):
        if n:
            ax.text(xi, 100 * rate + 1, f"{100 * rate:.0f}%", ha="center", va="bottom", fontsize=8)
            ax.text(xi, 3, f"n={n:,}", ha="center", va="bottom", fontsize=7, rotation=90, color="white")
    ax.axhline(100 * overall, color="black", linestyle="--", linewidth=1)
    ax.set_xticks(x, table["bin"].tolist())
    ax.set_ylim(0, 108)
    ax.set_ylabel("replayed within the horizon (%)")
    style_axes(ax)


def fig_replay_rate(history: pd.DataFrame, out_dir: Path, horizon_days: int) -> ReportFigure:
    """Replay rate by earlier plays of the pair and by days since the pair's last play."""
    lab = history[history["labelled"]]
    y = lab["label"].to_numpy(dtype=float)
    overall = float(y.mean()) if len(y) else float("nan")
    by_past = _rate_by_bins(lab["past_plays"].to_numpy(), y, PAST_PLAY_BINS, closed_low=True)
    since_d = lab["since_last_s"].to_numpy() / DAY
    first = np.isnan(since_d)
    by_since = _rate_by_bins(np.where(first, -1.0, since_d), y, SINCE_LAST_BINS, closed_low=False)
    by_since = pd.concat(
        [
            pd.DataFrame(
                [("first play", int(first.sum()), float(y[first].mean()) if first.any() else np.nan)],
                columns=["bin", "n", "rate"],
            ),
            by_since,
        ],
        ignore_index=True,
    )
    fig = new_figure(12, 4.4)
    ax, ax2 = fig.subplots(1, 2)
    _rate_bars(ax, by_past, overall, PALETTE[0])
    ax.set_xlabel("earlier plays of this (listener, track)")
    ax.set_title("By how often the pair was played before")
    _rate_bars(ax2, by_since, overall, PALETTE[2])
    ax2.set_xlabel("time since this listener last played this track")
    ax2.set_title("By time since the pair's last play")
    ax2.tick_params(axis="x", labelsize=8)
    fig.suptitle(
        f"Replay rate: share of labelled plays replayed within {horizon_days} days "
        f"(dashed: all labelled plays, {100 * overall:.1f}%)"
    )
    numbers = {
        "labelled plays": fmt_int(len(lab)),
        "replay rate, first play of a pair": fmt_pct(by_since.loc[0, "rate"]),
    }
    for _, row in by_past.iterrows():
        if row["bin"] in ("1", "5-9", "20-49"):
            numbers[f"replay rate, {row['bin']} earlier plays of the pair"] = fmt_pct(row["rate"])
    for _, row in by_since.iterrows():
        if row["bin"] in ("<1 h", "7-14 d", "90+ d"):
            numbers[f"replay rate, last play {row['bin']} ago"] = fmt_pct(row["rate"])
    save(fig, out_dir, "replay_rate")
    return ReportFigure(
        "replay_rate.png",
        "Replay rate by pair history",
        "Bars: share of labelled plays replayed within the horizon, per bin (n = plays in the bin); "
        "dashed: the rate over all labelled plays.",
        numbers,
    )


def fig_label_balance(
    history: pd.DataFrame,
    out_dir: Path,
    split_time: float | None,
    horizon_days: int,
    evaluator_positive_rate: float | None,
) -> ReportFigure:
    """Positives and negatives: overall, train/test of the temporal split, and per month."""
    horizon = horizon_days * DAY
    lab = history[history["labelled"]]
    groups: list[tuple[str, pd.DataFrame]] = [("all labelled", lab)]
    if split_time is not None:
        groups.append(("batch train", lab[lab["ts"] + horizon <= split_time]))
        groups.append(("test window", lab[lab["ts"] > split_time]))
    fig = new_figure(12, 4.2)
    ax, ax2 = fig.subplots(1, 2, width_ratios=[2, 3])
    names = [g for g, _ in groups]
    pos = np.array([int(g["label"].sum()) for _, g in groups])
    tot = np.array([len(g) for _, g in groups])
    share = np.where(tot > 0, pos / np.maximum(tot, 1), 0.0)
    ax.bar(names, 100 * share, color=PALETTE[2], label="positive (replayed)")
    ax.bar(names, 100 * (1 - share), bottom=100 * share, color=PALETTE[3], label="negative")
    for i, (s, n) in enumerate(zip(share, tot, strict=True)):
        ax.text(
            i,
            100 * s / 2,
            f"{100 * s:.1f}%\nof {n:,}",
            ha="center",
            va="center",
            color="white",
            fontsize=9,
            fontweight="bold",
        )
    ax.set_ylabel("% of plays")
    ax.set_ylim(0, 100)
    ax.set_title("Label balance")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8)
    style_axes(ax)

    monthly = history.set_index("time").resample("MS")
    month_rate = monthly["label"].mean().where(monthly["labelled"].all())
    month_n = monthly.size()
    ax2.bar(month_n.index, month_n.to_numpy(), width=25, color=PALETTE[7], alpha=0.5, label="counted plays")
    ax2.set_ylabel("counted plays per month")
    ax2.set_xlabel("month of the play (UTC)")
    style_axes(ax2)
    ax3 = ax2.twinx()
    ax3.plot(
        month_rate.index,
        100 * month_rate.to_numpy(),
        marker="o",
        color=PALETTE[2],
        linewidth=2,
        label="positive rate (fully labelled months)",
    )
    ax3.set_ylim(0, 100)
    ax3.set_ylabel("positive rate (%)")
    ax3.spines["top"].set_visible(False)
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = ax3.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
    ax2.set_title("Positive rate per month")

    unlabelled = int((~history["labelled"]).sum())
    numbers = {
        "counted plays": fmt_int(len(history)),
        "not labelled (horizon past the last play)": fmt_int(unlabelled),
    }
    for name, s, n in zip(names, share, tot, strict=True):
        numbers[f"positive rate, {name}"] = f"{fmt_pct(float(s))} of {fmt_int(n)}"
    numbers["positive rate reported by the evaluator"] = fmt_pct(evaluator_positive_rate)
    save(fig, out_dir, "label_balance")
    return ReportFigure(
        "label_balance.png",
        "Label balance",
        f"Positive = the listener plays the track again within {horizon_days} days. Computed here from the "
        "plays with pandas; the evaluator's own rate (feature/label code) is listed for comparison.",
        numbers,
    )
