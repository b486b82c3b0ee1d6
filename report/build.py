"""Orchestration: parse, evaluate once, draw every figure, write the page and the JSON.

Writes into ``out_dir``: one PNG per figure, ``report.html`` (relative links to the
PNGs) and ``evaluation.json`` (the very object `encore evaluate --json` prints for
the same input). Progress bars go to ``console`` (stderr) when it is a terminal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from models.settings import ModelSettings
from report.figure import ReportFigure, fmt_int

REPORT_HTML = "report.html"
EVALUATION_JSON = "evaluation.json"


@dataclass
class BuildResult:
    """What one report run wrote, and how long each step took."""

    out_dir: Path
    html: Path
    evaluation_json: Path
    figures: list[ReportFigure]
    #: The `encore evaluate --json` object of this input.
    evaluation: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def figure_paths(self) -> list[Path]:
        return [self.out_dir / f.filename for f in self.figures]


def evaluation_object(result: Any, parse_format: str | None, rejected: int) -> dict[str, Any]:
    """The object `encore evaluate --json` prints: the result's JSON dict + format + rejects."""
    data: dict[str, Any] = result.to_json_dict()
    data["format"] = parse_format
    data["rejected"] = rejected
    return data


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<16}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )


def build_report(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    format: str | None = None,
    user: str | None = None,
    settings: ModelSettings | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> BuildResult:
    """Build the report of the plays in ``paths`` into ``out_dir``.

    Raises :class:`models.parsers.UnusableInput` for an input that cannot be read and
    ``ValueError`` when it holds no plays.
    """
    from models.evaluation import evaluate
    from models.parsers import ParseReport
    from models.play_log import PlayLog
    from report import data_figures as dfig
    from report import model_figures as mfig
    from report.html import render_html

    cfg = settings or ModelSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    err = console or Console(stderr=True)
    timings: dict[str, float] = {}
    figures: list[ReportFigure] = []

    with _progress(err, progress and err.is_terminal) as bars:
        started = time.perf_counter()
        task = bars.add_task("reading plays", total=None)
        parsed = ParseReport(max_rejects=20)
        plays = PlayLog.read(  # ~50 B per play: inputs of millions of plays fit
            paths, format=format, user=user, report=parsed, settings=settings,
            progress=lambda n: bars.update(task, completed=n),
        )  # fmt: skip
        bars.update(task, total=1, completed=1)
        timings["parse"] = time.perf_counter() - started
        if not len(plays):
            raise ValueError(f"no plays in {', '.join(map(str, paths))}")

        started = time.perf_counter()
        n = len(plays)
        task = bars.add_task("evaluating", total=n)
        result = evaluate(
            plays,
            settings,
            progress=lambda done, total: bars.update(task, completed=done, total=total),
        )
        bars.update(task, completed=n)
        evaluation = evaluation_object(result, parsed.format, parsed.rejected)
        timings["evaluate"] = time.perf_counter() - started

        started = time.perf_counter()
        frame = dfig.plays_frame(plays, cfg)
        history = dfig.pair_history(frame, cfg)
        note = None
        if parsed.format == "jodie":
            note = (
                "This input (JODIE) stores seconds since an unknown start, read as "
                f"{cfg.jodie_origin:%Y-%m-%d %H:%M} UTC: hours and weekdays are relative to that guess."
            )
        drawings: list[Callable[[], ReportFigure]] = [
            lambda: dfig.fig_plays_per_entity(frame, out),
            lambda: dfig.fig_listening_over_time(frame, out, result.split_time, cfg.horizon_days),
            lambda: dfig.fig_hour_weekday(frame, out, note),
            lambda: dfig.fig_short_plays(frame, out, cfg),
            lambda: dfig.fig_replay_rate(history, out, cfg.horizon_days),
            lambda: dfig.fig_label_balance(
                history, out, result.split_time, cfg.horizon_days, result.positive_rate
            ),
            lambda: mfig.fig_roc(result, out),
            lambda: mfig.fig_calibration(result, out),
            lambda: mfig.fig_online_auc_over_time(result, out),
            lambda: mfig.fig_importances(result, out),
        ]
        task = bars.add_task("drawing figures", total=len(drawings))
        for draw in drawings:
            figures.append(draw())
            bars.advance(task)
        timings["figures"] = time.perf_counter() - started

        started = time.perf_counter()
        task = bars.add_task("writing report", total=2)
        json_path = out / EVALUATION_JSON
        json_path.write_text(json.dumps(evaluation, indent=2) + "\n", encoding="utf-8")
        bars.advance(task)
        summary = {
            "input format": str(parsed.format),
            "plays accepted": fmt_int(parsed.accepted),
            "records rejected": fmt_int(parsed.rejected),
            "records skipped (not music plays)": fmt_int(sum(parsed.skipped.values())),
            "distinct plays (by event id)": fmt_int(len(frame)),
            "counted plays (not under the minimum duration)": fmt_int(int(frame["counted"].sum())),
            "listeners": fmt_int(frame["user_id"].nunique()),
            "tracks": fmt_int(frame["track_id"].nunique()),
            "(listener, track) pairs": fmt_int(len(frame.groupby(["user_id", "track_id"]).size())),
            "first / last play (UTC)": f"{frame['time'].min():%Y-%m-%d} / {frame['time'].max():%Y-%m-%d}",
            "label rule": f"replayed within {cfg.horizon_days} days; "
            f"plays under {cfg.min_play_ms / 1000:.0f} s do not count",
        }
        page = render_html(
            title="encore: data and evaluation report",
            inputs=[str(p) for p in paths],
            summary=summary,
            figures=figures,
            evaluation=evaluation,
            timings=timings,
            generated_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        )
        html_path = out / REPORT_HTML
        html_path.write_text(page, encoding="utf-8")
        bars.advance(task)
        timings["write"] = time.perf_counter() - started

    return BuildResult(out, html_path, json_path, figures, evaluation, timings)
