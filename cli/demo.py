"""`encore demo`: the whole job on one machine, start to finish, with its figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.replay import publish
from cluster.local import down as cluster_down
from cluster.local import up as cluster_up
from cluster.settings import REPO_ROOT, ClusterSettings
from producers.readback import end_offsets, read_between

console = Console()

#: The bundled real dataset (../shared/data beside the repo).
LASTFM = REPO_ROOT.parent / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"


def _figures(title: str, rows: dict[str, object]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in rows.items():
        table.add_row(key, f"{value:,.1f}" if isinstance(value, float) else str(value))
    return table


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        data: Annotated[
            list[Path] | None, typer.Option(help="Datasets to replay (default: the bundled Last.fm plays).")
        ] = None,
        speed: Annotated[
            float | None, typer.Option(help="Event seconds per wall second (default: as fast as possible).")
        ] = None,
        stop_cluster: Annotated[bool, typer.Option("--down", help="Stop the cluster afterwards.")] = False,
    ) -> None:
        """Cluster up, replay real plays into Kafka, read them back, print the figures."""
        settings = ClusterSettings()
        paths = data or [LASTFM]
        with console.status("bringing up Kafka and Redis…"):
            status = cluster_up(settings)
        console.print(
            f"cluster up in {status.seconds:.1f} s (started: {', '.join(status.started) or 'none'})"
        )

        before = end_offsets(settings, settings.plays_topic)
        stats, dead = publish(paths, settings=settings, speed=speed)
        after = end_offsets(settings, settings.plays_topic)
        with console.status("reading the plays back from Kafka…"):
            back = read_between(settings, settings.plays_topic, before, after)
        console.print(
            _figures(
                "replay into Kafka and back",
                {
                    "plays in": stats.sent,
                    "plays back": back.messages,
                    "same event ids": sorted(back.event_ids) == sorted(stats.event_ids),
                    "dead letters": dead,
                    "listeners": len(stats.users),
                    "replay plays/s": stats.rate,
                    "read-back plays/s": back.rate,
                },
            )
        )
        if stop_cluster:
            cluster_down(settings)
            console.print("cluster down")
