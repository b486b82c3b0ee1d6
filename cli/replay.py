"""`encore replay`: publish a recorded dataset to `plays` in event-time order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cluster.settings import ClusterSettings
from models.dead_letter import DeadLetter
from producers.kafka_io import PlayProducer
from producers.replay import ReplayStats, replay

console = Console(stderr=True)


def publish(
    paths: list[Path],
    *,
    settings: ClusterSettings,
    speed: float | None,
    limit: int | None = None,
    fmt: str | None = None,
    user: str | None = None,
    topic: str | None = None,
    quiet: bool = False,
) -> tuple[ReplayStats, int]:
    """Parse ``paths``, send their rejects to the DLQ and their plays to Kafka.

    Returns the replay stats and the number of dead letters sent.
    """
    from models.parsers import parse_paths

    report = parse_paths(paths, format=fmt, user=user)
    plays = list(report.events)
    with PlayProducer(settings, topic=topic) as producer:
        for reject in report.rejects:
            producer.dead_letter(
                DeadLetter.for_raw(
                    getattr(reject, "raw", None),
                    reason=reject.reason,
                    origin="replay",
                    location=f"{reject.file}:{reject.location}",
                )
            )
        total = min(len(plays), limit) if limit is not None else len(plays)
        with Progress(
            TextColumn("[bold]replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=False,
        ) as progress:
            task = progress.add_task("plays", total=total)
            step = max(1, total // 200)

            def advance(n: int) -> None:
                if n % step == 0 or n == total:
                    progress.update(task, completed=n)

            stats = replay(plays, send=producer.send, speed=speed, limit=limit, on_sent=advance)
            producer.flush()
        return stats, producer.dead


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay_command(
        paths: Annotated[list[Path], typer.Argument(help="Dataset files (any format `validate` reads).")],
        speed: Annotated[
            float | None, typer.Option(help="Event seconds per wall second; 86400 = a day per second.")
        ] = None,
        max_speed: Annotated[bool, typer.Option("--max", help="As fast as Kafka takes them.")] = False,
        limit: Annotated[int | None, typer.Option(help="Stop after this many plays.")] = None,
        fmt: Annotated[str | None, typer.Option("--format", help="Override format detection.")] = None,
        user: Annotated[str | None, typer.Option(help="Listener id for exports without one.")] = None,
        topic: Annotated[str | None, typer.Option(help="Topic (default: the plays topic).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    ) -> None:
        """Publish plays to Kafka in event-time order (key = listener id)."""
        if speed is None and not max_speed:
            raise typer.BadParameter("give --speed X or --max")
        if speed is not None and max_speed:
            raise typer.BadParameter("--speed and --max exclude each other")
        settings = ClusterSettings()
        stats, dead = publish(
            paths, settings=settings, speed=None if max_speed else speed, limit=limit,
            fmt=fmt, user=user, topic=topic, quiet=as_json,
        )
        summary = {
            "sent": stats.sent,
            "dead_letters": dead,
            "listeners": len(stats.users),
            "seconds": round(stats.seconds, 3),
            "plays_per_second": round(stats.rate, 1),
            "first_played_at": stats.first_played_at,
            "last_played_at": stats.last_played_at,
            "topic": topic or settings.plays_topic,
        }
        if as_json:
            typer.echo(json.dumps(summary))
            return
        table = Table(title="replay")
        table.add_column("")
        table.add_column("value", justify="right")
        for key, value in summary.items():
            table.add_row(key, str(value))
        Console().print(table)
