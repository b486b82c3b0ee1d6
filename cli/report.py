"""`encore report`: EDA and evaluation figures plus one report.html and evaluation.json."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def report_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files, folders or zip archives of plays (any parsed format).")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for the PNGs, report.html and evaluation.json.")
    ] = Path("reports"),
    format: Annotated[
        str | None, typer.Option("--format", help="Force the input format (default: detected).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Listener of exports that name none.")] = None,
) -> None:
    """Draw data and model figures of PATH... into OUT/report.html, with the `encore evaluate` numbers."""
    from models.parsers import UnusableInput
    from report.build import build_report

    err = Console(stderr=True)
    started = time.perf_counter()
    try:
        result = build_report(paths, out, format=format, user=user, console=err)
    except UnusableInput as error:
        err.print(f"[red]cannot read input:[/red] {error}")
        raise typer.Exit(2) from error
    except ValueError as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    elapsed = time.perf_counter() - started
    console = Console()
    console.print(
        f"wrote [bold]{result.html}[/bold], {result.evaluation_json.name} and {len(result.figures)} figures "
        f"in {elapsed:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()) + ")"
    )
    for path in result.figure_paths:
        console.print(f"  {path}")


def register(app: typer.Typer) -> None:
    """Add `report` to the `encore` app."""
    app.command("report")(report_command)
