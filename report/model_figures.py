"""Figures of one `encore evaluate` run (:class:`models.evaluation.EvaluationResult`).

All curves are drawn from ``result.test_predictions``: one row per labelled play of
the test window with the label and the score of every model and heuristic, so every
curve is on the same plays. The AUCs in the legends are the evaluator's own numbers
(the ones in the `encore evaluate` table), not recomputed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.evaluation import EvaluationResult
from models.features import DAY
from report.figure import PALETTE, ReportFigure, fmt_float, fmt_int, new_figure, save, style_axes

#: Columns of ``test_predictions`` that are not scores.
ID_COLUMNS = ("ts", "user_id", "track_id", "label")

#: Display names of the scored columns; unknown columns keep their own name.
DISPLAY = {
    "online": "online (Newton logistic regression, learns at horizon close)",
    "sklearn_logreg": "sklearn logistic regression",
    "lightgbm": "LightGBM",
}

#: Score columns that are probabilities (the heuristics are only rankings).
PROBABILISTIC = ("online", "sklearn_logreg", "lightgbm")


def score_columns(result: EvaluationResult) -> list[str]:
    """Models first, then heuristics, in the order the evaluator wrote them."""
    return [c for c in result.test_predictions.columns if c not in ID_COLUMNS]


def display_name(column: str, result: EvaluationResult) -> str:
    if column in result.heuristic_auc_test:
        return f"heuristic: {column}"
    return DISPLAY.get(column, column)


def reported_auc(column: str, result: EvaluationResult) -> float | None:
    """The evaluator's own AUC on the test window for a score column."""
    if column in result.heuristic_auc_test:
        return result.heuristic_auc_test[column]
    return {
        "online": result.online_auc_test,
        "sklearn_logreg": result.sklearn_logreg_auc_test,
        "lightgbm": result.lightgbm_auc_test,
    }.get(column)


def _colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def fig_roc(result: EvaluationResult, out_dir: Path) -> ReportFigure:
    """ROC curves of every model and heuristic on the test window."""
    from sklearn.metrics import roc_curve

    preds = result.test_predictions
    y = preds["label"].to_numpy(dtype=bool)
    fig = new_figure(7, 6.2)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance (AUC 0.5)")
    numbers: dict[str, str] = {
        "test plays": fmt_int(len(preds)),
        "positives in test": f"{fmt_int(int(y.sum()))} ({100 * y.mean():.1f}%)" if len(y) else "-",
    }
    drawable = len(y) > 0 and y.min() != y.max()
    for i, col in enumerate(score_columns(result)):
        auc = reported_auc(col, result)
        name = display_name(col, result)
        numbers[f"AUC {name}"] = fmt_float(auc)
        if not drawable:
            continue
        fpr, tpr, _ = roc_curve(y, preds[col].to_numpy(dtype=float))
        heuristic = col in result.heuristic_auc_test
        ax.plot(
            fpr,
            tpr,
            color=_colour(i),
            linewidth=1.4 if heuristic else 2.0,
            linestyle="--" if heuristic else "-",
            label=f"{name}  AUC {fmt_float(auc)}",
        )
    if not drawable:
        ax.text(0.5, 0.6, "no test window with both labels in this input", ha="center", fontsize=11)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.005)
    ax.set_xlabel("false positive rate (negatives scored above the threshold)")
    ax.set_ylabel("true positive rate (replays caught)")
    ax.set_title(f"ROC on the test window ({len(preds):,} labelled plays)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_aspect("equal")
    style_axes(ax)
    save(fig, out_dir, "roc")
    return ReportFigure(
        "roc.png",
        "ROC curves on the test window",
        "Every model and heuristic scored on the same labelled plays after the temporal split. Solid: "
        "learned models; dashed: one-feature heuristics. AUCs are the evaluator's.",
        numbers,
        section="model",
    )


def _calibration(y: np.ndarray, p: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Quantile bins: mean predicted, observed rate, expected calibration error."""
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, bins)
    mean_p = np.array([p[c].mean() for c in chunks if len(c)])
    obs = np.array([y[c].mean() for c in chunks if len(c)])
    sizes = np.array([len(c) for c in chunks if len(c)])
    ece = float(np.sum(sizes * np.abs(mean_p - obs)) / max(1, sizes.sum()))
    return mean_p, obs, ece


def fig_calibration(result: EvaluationResult, out_dir: Path, bins: int = 15) -> ReportFigure:
    """Reliability diagram (quantile bins) and the spread of predicted probabilities."""
    preds = result.test_predictions
    y = preds["label"].to_numpy(dtype=float)
    cols = [c for c in PROBABILISTIC if c in preds.columns]
    fig = new_figure(7, 7.5)
    ax, axh = fig.subplots(2, 1, height_ratios=[3, 1.3], sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfectly calibrated")
    numbers: dict[str, str] = {"observed positive rate (test)": f"{100 * y.mean():.1f}%" if len(y) else "-"}
    for i, col in enumerate(cols):
        p = np.clip(preds[col].to_numpy(dtype=float), 0.0, 1.0)
        name = display_name(col, result)
        if len(y):
            mean_p, obs, ece = _calibration(y, p, bins)
            brier = float(np.mean((p - y) ** 2))
            ax.plot(
                mean_p,
                obs,
                marker="o",
                markersize=4,
                color=_colour(i),
                linewidth=1.6,
                label=f"{name}  (ECE {ece:.3f})",
            )
            numbers[f"{name}: Brier / ECE / mean p"] = f"{brier:.4f} / {ece:.4f} / {p.mean():.3f}"
        axh.hist(p, bins=40, range=(0, 1), histtype="step", color=_colour(i), linewidth=1.5, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("observed replay rate in the bin")
    ax.set_title(f"Calibration on the test window ({bins} equal-count bins)")
    ax.legend(loc="upper left", fontsize=8)
    style_axes(ax)
    axh.set_xlabel("predicted probability of a replay within the horizon")
    axh.set_ylabel("test plays")
    if len(y):
        axh.set_yscale("log")
    else:
        ax.text(0.5, 0.6, "no labelled plays in the test window", ha="center", fontsize=11)
    style_axes(axh)
    numbers["online log loss (test), evaluator"] = fmt_float(result.online_logloss_test)
    save(fig, out_dir, "calibration")
    return ReportFigure(
        "calibration.png",
        "Calibration",
        "Each point is one equal-count bin of test plays: mean predicted probability against the share "
        "actually replayed. ECE: mean |predicted - observed| weighted by bin size. Below: how the "
        "predictions spread (log scale). Heuristics are rankings, not probabilities, and are left out.",
        numbers,
        section="model",
    )


def fig_online_auc_over_time(result: EvaluationResult, out_dir: Path) -> ReportFigure:
    """Prequential AUC of the online learner per 30-day window of labelled plays."""
    rows = pd.DataFrame(result.online_auc_over_time, columns=["end", "n", "auc"])
    rows["start"] = pd.to_datetime(rows["end"] - 30 * DAY, unit="s", utc=True)
    rows["mid"] = pd.to_datetime(rows["end"] - 15 * DAY, unit="s", utc=True)
    fig = new_figure(10, 4.8)
    ax = fig.subplots()
    ax2 = ax.twinx()
    ax2.bar(rows["mid"], rows["n"], width=26, color=PALETTE[7], alpha=0.35, label="labelled plays in window")
    ax2.set_ylabel("labelled plays per window")
    ax2.spines["top"].set_visible(False)
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    auc = rows["auc"].astype(float)
    ax.plot(
        rows["mid"],
        auc,
        marker="o",
        color=PALETTE[0],
        linewidth=2,
        label="online AUC (predict, then learn)",
    )
    for col, colour in (("sklearn_logreg", PALETTE[1]), ("lightgbm", PALETTE[2])):
        value = reported_auc(col, result)
        if value is not None and result.split_time is not None:
            split = pd.Timestamp(result.split_time, unit="s", tz="UTC")
            ax.hlines(
                value,
                split,
                rows["start"].max() + pd.Timedelta(days=30),
                colors=colour,
                linestyles="--",
                linewidth=1.5,
                label=f"{display_name(col, result)}, test window",
            )
    if result.split_time is not None:
        ax.axvline(
            pd.Timestamp(result.split_time, unit="s", tz="UTC"),
            color="black",
            linestyle=":",
            linewidth=1.2,
            label="temporal split",
        )
    ax.set_ylim(0.45, 1.0)
    ax.set_ylabel("AUC in the 30-day window")
    ax.set_xlabel("event time of the plays (UTC, 30-day windows)")
    ax.set_title("Online AUC over event time")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="outside lower center", ncol=3, fontsize=8)
    style_axes(ax)
    numbers: dict[str, str] = {
        "windows": str(len(rows)),
        "online AUC, all labelled plays": fmt_float(result.online_auc),
        "online AUC, test window": fmt_float(result.online_auc_test),
    }
    valid = rows.dropna(subset=["auc"])
    if len(valid):
        first = valid.iloc[0]
        numbers["first window"] = (
            f"{first['start']:%Y-%m-%d}: {fmt_float(first['auc'])} (n={int(first['n']):,})"
        )
        later = valid.iloc[1:]
        if len(later):
            numbers["later windows: min / max"] = f"{later['auc'].min():.4f} / {later['auc'].max():.4f}"
    save(fig, out_dir, "online_auc_over_time")
    return ReportFigure(
        "online_auc_over_time.png",
        "Online AUC over event time",
        "Each play is scored before the learner sees it; the learner learns a play only when its "
        "horizon has closed, so in the first window nothing has been learnt yet (every score 0.5, "
        "AUC 0.5). Dashed: the batch models on the test window, for scale.",
        numbers,
        section="model",
    )


def fig_importances(result: EvaluationResult, out_dir: Path) -> ReportFigure:
    """LightGBM gain share per feature, and the online model's weights (scaled features)."""
    gains = pd.Series(result.lightgbm_importance, dtype=float)
    weights = pd.Series(result.online_weights, dtype=float)
    features = sorted(set(gains.index) | set(weights.index))
    idle = [f for f in features if gains.get(f, 0.0) == 0.0 and weights.get(f, 0.0) == 0.0]
    n_rows = max(len(gains), len(weights), 1)
    fig = new_figure(12, 1.2 + 0.26 * n_rows)
    ax, ax2 = fig.subplots(1, 2)
    numbers: dict[str, str] = {}
    if len(gains) and gains.sum() > 0:
        share = (100 * gains / gains.sum()).sort_values()
        ax.barh(share.index, share.to_numpy(), color=PALETTE[2])
        ax.set_xlabel("share of total gain (%)")
        for rank, (name, value) in enumerate(share.sort_values(ascending=False).head(3).items(), 1):
            numbers[f"LightGBM gain #{rank}"] = f"{name} ({value:.1f}%)"
    else:
        ax.text(0.5, 0.5, "no LightGBM model in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("LightGBM: gain importance")
    ax.tick_params(axis="y", labelsize=8)
    style_axes(ax)
    if len(weights):
        order = weights.abs().sort_values().index
        w = weights[order]
        ax2.barh(w.index, w.to_numpy(), color=[PALETTE[0] if v >= 0 else PALETTE[3] for v in w])
        ax2.axvline(0, color="black", linewidth=0.8)
        ax2.set_xlabel("weight on the standardised feature (blue +, red -)")
        for rank, (name, value) in enumerate(w.iloc[::-1].head(3).items(), 1):
            numbers[f"online |weight| #{rank}"] = f"{name} ({value:+.3f})"
    else:
        ax2.text(
            0.5,
            0.5,
            "the online model has no linear weights",
            ha="center",
            va="center",
            transform=ax2.transAxes,
        )
    ax2.set_title("Online model: logistic regression weights")
    ax2.tick_params(axis="y", labelsize=8)
    style_axes(ax2)
    if idle:
        numbers["features unused by both (constant here)"] = ", ".join(idle)
    save(fig, out_dir, "feature_importance")
    return ReportFigure(
        "feature_importance.png",
        "Feature importances",
        "Left: each feature's share of LightGBM's total split gain. Right: the online logistic "
        "regression's weights at the end of the run, on log1p'd and standardised features, so their sizes "
        "compare; correlated features share and can flip signs.",
        numbers,
        section="model",
    )
