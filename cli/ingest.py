"""`encore validate` and `encore import`: read play files of any known format, without Kafka.

``validate`` reports what a file holds and what is wrong with it; ``import`` writes
the same plays as canonical CSV. Both exit 0 when nothing was rejected, 1 when
something was (the good plays are still counted, and written), 2 when an input is
unusable (missing file, unknown format).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from models.events import PlayEvent
from models.parsers import ParseReport, PlaySummary, UnusableInput, iter_paths
from models.parsers.canonical_csv import COLUMNS, format_row
from models.parsers.detect import FORMAT_NAMES
from models.settings import ModelSettings

#: Rejects listed by default.
SHOWN_REJECTS = 20

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help=f"Override detection: {', '.join(FORMAT_NAMES)}.",
    ),
]
UserOption = Annotated[
    str | None,
    typer.Option("--user", "-u", help="Listener id for Spotify exports without a username."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object, nothing else.")]
MaxRejectsOption = Annotated[
    int, typer.Option("--max-rejects", min=0, help="How many rejects to list (all are counted).")
]


def scan(
    paths: list[Path],
    *,
    fmt: str | None,
    user: str | None,
    max_rejects: int,
    on_play: Callable[[PlayEvent], object] | None = None,
) -> tuple[ParseReport, PlaySummary]:
    """Stream every play of ``paths`` through a summary (and ``on_play``).

    Raises ``UnusableInput`` before reading any play when a path or format is unusable.
    """
    settings = ModelSettings()
    report = ParseReport(max_rejects=max_rejects)
    summary = PlaySummary(min_play_ms=settings.min_play_ms)
    for play in iter_paths(paths, fmt, user, report=report, settings=settings):
        summary.add(play)
        if on_play is not None:
            on_play(play)
    return report, summary


def result(report: ParseReport, summary: PlaySummary) -> dict[str, Any]:
    """What validate prints with ``--json``."""
    return {
        "format": report.format,
        "accepted": report.accepted,
        "skipped": dict(report.skipped),
        "rejected": report.rejected,
        "rejects": [reject.as_dict() for reject in report.rejects],
        **summary.as_dict(),
        "files": [file.as_dict() for file in report.files],
        "ignored": report.ignored,
    }


def _skips(skipped: dict[str, int]) -> str:
    if not skipped:
        return "0"
    total = sum(skipped.values())
    return f"{total} (" + ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) + ")"


def _short(path: str) -> str:
    """``folder/name`` of a path: enough to tell files apart in a table."""
    return "/".join(Path(path).parts[-2:])


def _print_tables(title: str, data: dict[str, Any], console: Console) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    short = data["short_plays"]
    rows = [
        ("format", data["format"]),
        ("files", str(len(data["files"]))),
        ("accepted", str(data["accepted"])),
        ("skipped", _skips(data["skipped"])),
        ("rejected", str(data["rejected"])),
        ("listeners", str(data["users"])),
        ("tracks", str(data["tracks"])),
        ("duplicate event ids", f"{data['duplicate_event_ids']} ({data['duplicates_differing']} differing)"),
        (
            f"short plays (< {data['min_play_ms'] // 1000} s)",
            "unknown (no durations)" if short is None else f"{short} of {data['plays_with_ms_played']}",
        ),
        ("first played_at", str(data["first_played_at"])),
        ("last played_at", str(data["last_played_at"])),
    ]
    if "written" in data:
        rows.append(("written", f"{data['written']} → {data['out']}"))
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if len(data["files"]) > 1:
        files = Table(title="files")
        for column in ("file", "format", "accepted", "skipped", "rejected"):
            right = column in ("accepted", "rejected")
            files.add_column(column, justify="right" if right else "left", overflow="fold")
        for file in data["files"]:
            files.add_row(
                _short(file["path"]),
                file["format"],
                str(file["accepted"]),
                _skips(file["skipped"]),
                str(file["rejected"]),
            )
        console.print(files)
    if data["ignored"]:
        console.print(f"ignored (no known format): {', '.join(data['ignored'])}")
    if data["rejects"]:
        rejects = Table(title=f"rejected records (first {len(data['rejects'])} of {data['rejected']})")
        rejects.add_column("file", overflow="fold")
        rejects.add_column("where")
        rejects.add_column("reason")
        for reject in data["rejects"]:
            rejects.add_row(reject["file"], reject["location"], reject["reason"])
        console.print(rejects)


def _fail_unusable(error: UnusableInput, *, as_json: bool = False) -> typer.Exit:
    """Exit 2 for input that cannot be read at all; with ``--json`` stdout still holds
    one JSON object, saying which path and why."""
    Console(stderr=True, soft_wrap=True).print(f"[red]encore: unusable input:[/red] {error}", highlight=False)
    if as_json:
        typer.echo(json.dumps({"unusable": {"path": error.path, "reason": error.reason}}, ensure_ascii=False))
    return typer.Exit(2)


def _finish(title: str, data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        _print_tables(title, data, Console())
    if data["rejected"]:
        raise typer.Exit(1)


@contextmanager
def _atomic_text(path: Path) -> Iterator[IO[str]]:
    """Write ``path`` through a temporary file beside it, renamed over it on success."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    temp = Path(name)
    try:
        with ExitStack() as stack:
            binary: IO[bytes] = stack.enter_context(os.fdopen(handle, "wb"))
            if path.name.endswith(".gz"):
                binary = cast(IO[bytes], stack.enter_context(gzip.GzipFile(fileobj=binary, mode="wb")))
            text = stack.enter_context(io.TextIOWrapper(binary, encoding="utf-8", newline=""))
            yield text
        temp.chmod(0o644)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``import`` to the `encore` app."""

    @app.command("validate")
    def validate(
        paths: Annotated[list[Path], typer.Argument(help="Files, folders or zip archives of plays.")],
        fmt: FormatOption = None,
        user: UserOption = None,
        as_json: JsonOption = False,
        max_rejects: MaxRejectsOption = SHOWN_REJECTS,
    ) -> None:
        """Parse play files without Kafka and report what they hold and what is wrong."""
        try:
            report, summary = scan(paths, fmt=fmt, user=user, max_rejects=max_rejects)
        except UnusableInput as error:
            raise _fail_unusable(error, as_json=as_json) from None
        _finish("validate", result(report, summary), as_json)

    @app.command("import")
    def import_(
        paths: Annotated[list[Path], typer.Argument(help="Files, folders or zip archives of plays.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Canonical CSV to write (.gz compresses).")],
        fmt: FormatOption = None,
        user: UserOption = None,
        as_json: JsonOption = False,
        max_rejects: MaxRejectsOption = SHOWN_REJECTS,
    ) -> None:
        """Parse play files and write their plays as canonical CSV (file order, duplicates kept)."""
        if out.is_dir() or not out.parent.is_dir():
            unusable = UnusableInput(str(out), "is a folder or its folder does not exist")
            raise _fail_unusable(unusable, as_json=as_json)
        written = 0
        try:
            with _atomic_text(out) as stream:

                def write(play: PlayEvent) -> None:
                    nonlocal written
                    stream.write(format_row(play))
                    written += 1

                stream.write(",".join(COLUMNS) + "\n")
                report, summary = scan(paths, fmt=fmt, user=user, max_rejects=max_rejects, on_play=write)
        except UnusableInput as error:
            raise _fail_unusable(error, as_json=as_json) from None
        data = result(report, summary)
        data.update(out=str(out), written=written)
        _finish("import", data, as_json)
