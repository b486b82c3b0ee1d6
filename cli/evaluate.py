"""`encore evaluate`: the stream's feature, label and learner code over files, with baselines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def evaluate_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files, folders or zip archives of plays (any parsed format).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, nothing else.")] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="Force the input format (default: detected).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Listener of exports that name none.")] = None,
) -> None:
    """Replay plays through features, labels and the online learner; compare baselines."""
    from models.evaluation import evaluate
    from models.parsers import ParseReport, UnusableInput
    from models.play_log import PlayLog

    err = Console(stderr=True)
    quiet = as_json or not err.is_terminal
    report = ParseReport(max_rejects=20)
    reading = Progress(
        TextColumn("[bold]reading[/bold]"),
        TextColumn("{task.completed:,} plays"),
        console=err,
        transient=True,
        disable=quiet,
    )
    with reading:
        task = reading.add_task("read", total=None)
        try:
            log = PlayLog.read(  # ~50 B per play: inputs of millions of plays fit
                paths, format=format, user=user, report=report,
                progress=lambda n: reading.update(task, completed=n),
            )  # fmt: skip
        except UnusableInput as error:
            err.print(f"[red]cannot read input:[/red] {error}")
            if as_json:  # stdout still holds one JSON object
                unusable = {"path": error.path, "reason": error.reason}
                sys.stdout.write(json.dumps({"unusable": unusable}) + "\n")
            raise typer.Exit(2) from error
    if not len(log):
        err.print(f"[red]no plays in {', '.join(map(str, paths))}[/red]")
        raise typer.Exit(1)

    progress = Progress(
        TextColumn("[bold]evaluating[/bold]"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} plays"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=quiet,
    )
    with progress:
        task = progress.add_task("evaluate", total=len(log))
        result = evaluate(log, progress=lambda done, total: progress.update(task, completed=done))

    data = result.to_json_dict()
    data["format"] = report.format
    data["rejected"] = report.rejected
    if as_json:
        sys.stdout.write(json.dumps(data) + "\n")
        return

    out = Console()
    out.print(
        f"[bold]{result.plays:,}[/bold] plays ({report.format}), "
        f"[bold]{result.labelled:,}[/bold] labelled, positive rate "
        f"{_fmt(result.positive_rate)}; test window {result.test_size:,} plays, "
        f"batch train {result.train_size:,}; {result.plays_per_second:,.0f} plays/s"
    )
    table = Table(title="AUC on the test window (same features, same run)")
    table.add_column("model")
    table.add_column("AUC", justify="right")
    table.add_row(
        "online (Newton logistic regression, learns at horizon close)", _fmt(result.online_auc_test)
    )
    table.add_row("sklearn logistic regression", _fmt(result.sklearn_logreg_auc_test))
    table.add_row("LightGBM", _fmt(result.lightgbm_auc_test))
    for name, auc in result.heuristic_auc_test.items():
        table.add_row(f"heuristic: {name}", _fmt(auc))
    out.print(table)
    out.print(
        f"online AUC over all labelled plays {_fmt(result.online_auc)}, "
        f"log loss on test {_fmt(result.online_logloss_test)}; "
        f"duplicates {result.counts['duplicate']}, short {result.counts['short']}, "
        f"late {result.counts['late']}, stale {result.counts['stale']}"
    )


def register(app: typer.Typer) -> None:
    """Add `evaluate` to the `encore` app."""
    app.command("evaluate")(evaluate_command)
