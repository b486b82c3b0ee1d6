"""`encore replay`: publish a recorded dataset to `plays` in event-time order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cluster.settings import ClusterSettings
from producers.kafka_io import DeliveryError
from producers.publish import publish

__all__ = ["publish", "register"]


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
        try:
            stats, dead = publish(
                paths, settings=settings, speed=None if max_speed else speed, limit=limit,
                fmt=fmt, user=user, topic=topic, quiet=as_json,
            )  # fmt: skip
        except DeliveryError as exc:
            Console(stderr=True).print(f"[red]replay incomplete:[/] {exc}")
            raise typer.Exit(1) from exc
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
