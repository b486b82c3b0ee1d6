"""`encore demo`: the whole job on one machine, start to finish, with its figures.

Cluster up, N Faust workers up, real plays replayed into Kafka, features, labels and
learning in the stream, recommendations in Redis; then the figures, read back from
Redis. Each demo is a fresh run: its own topics and consumer group; the stream's
Redis keys (under the usual ``encore:`` prefix, so `encore api` shows them) are
cleared first.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cluster.local import down as cluster_down
from cluster.local import up as cluster_up
from cluster.settings import ClusterSettings
from cluster.topics import ensure_topics
from producers.publish import LASTFM, publish
from stream_app.fleet import Fleet, RunNamespace, Totals, wait_drained, wait_for_workers
from stream_app.recs_store import RecsReader, RecsWriter, StoredRecs, async_client

console = Console()


def _figures(title: str, rows: dict[str, object]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in rows.items():
        table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
    return table


async def _read_recs(settings: ClusterSettings, users: list[str], k: int) -> list[StoredRecs]:
    client = async_client(settings)
    try:
        reader = RecsReader(client, settings.redis_prefix)
        return [await reader.recommendations(u, k) for u in users]
    finally:
        await client.aclose()


def _latest_model(writer: RecsWriter, *, learnt: int, timeout: float = 30.0) -> dict[str, Any]:
    """The model info in Redis once its snapshot holds everything the trainer learnt
    (a snapshot is published every few seconds), or the latest one at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        model = writer.read_model_info()
        if model.get("examples_learned", -1) >= learnt or time.monotonic() > deadline:
            return model
        time.sleep(0.25)


def _recs_table(recs: StoredRecs) -> Table:
    table = Table(
        title=f"listener {recs.user_id}: top {len(recs.items)} ({recs.reason})", title_justify="left"
    )
    for col in ("#", "track", "artist", "P(replay in 30 d)", "why"):
        table.add_column(col)
    for i, item in enumerate(recs.items, 1):
        table.add_row(
            str(i),
            item.track_name or item.track_id,
            item.artist_name or "",
            f"{item.score:.3f}",
            item.reason or "",
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        data: Annotated[
            list[Path] | None, typer.Option(help="Datasets to replay (default: the bundled Last.fm plays).")
        ] = None,
        workers: Annotated[int, typer.Option(min=1, max=8, help="Faust workers to run.")] = 2,
        speed: Annotated[
            float | None, typer.Option(help="Event seconds per wall second (default: as fast as possible).")
        ] = None,
        listeners: Annotated[int, typer.Option(help="Listeners whose recommendations are printed.")] = 3,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for the stream to drain.")] = 900.0,
        stop_cluster: Annotated[bool, typer.Option("--down", help="Stop the cluster afterwards.")] = False,
    ) -> None:
        """Cluster up, workers up, real plays replayed, model learning, recommendations served."""
        base = ClusterSettings()
        paths = data or [LASTFM]
        with console.status("bringing up Kafka and Redis…"):
            status = cluster_up(base)
        console.print(
            f"cluster up in {status.seconds:.1f} s (started: {', '.join(status.started) or 'none'})"
        )

        namespace = RunNamespace(run_id=RunNamespace.fresh("demo").run_id, redis_prefix=base.redis_prefix)
        settings = namespace.settings(base)
        ensure_topics(settings)
        writer = RecsWriter.from_settings(settings)
        cleared = writer.clear_stream_keys()
        console.print(f"run {namespace.run_id}: topics created, {cleared} old stream keys cleared from Redis")

        fleet = Fleet(namespace=namespace, log_dir=base.local_dir / "runs" / namespace.run_id)
        fleet.start(workers)
        try:
            with console.status(f"starting {workers} Faust worker(s)…"):
                wait_for_workers(writer, workers, fleet)
            began = time.time()
            stats, dead = publish(paths, settings=settings, speed=speed)
            with Progress(
                TextColumn("[bold]stream"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console,
            ) as progress:  # fmt: skip
                task = progress.add_task("processed", total=stats.sent)

                def show(now: Totals) -> None:
                    progress.update(task, completed=min(now.plays + now.dead_letters, stats.sent))

                done = wait_drained(
                    writer, messages=stats.sent, fleet=fleet, timeout=timeout, on_progress=show
                )
            processing_s = max(done.last_play_ms / 1000 - began, 1e-9)
            drained_s = done.last_update_ms / 1000 - began
            model = _latest_model(writer, learnt=int(done.trainer("trainer_learnt") or 0))
            console.print(
                _figures(
                    "encore demo",
                    {
                        "plays replayed": stats.sent,
                        "listeners": len(stats.users),
                        "dead letters": dead + done.dead_letters,
                        "workers": workers,
                        "replay plays/s": stats.rate,
                        "plays processed/s (features, labels, scoring)": done.plays / processing_s,
                        "seconds until trainer and scorer drained": drained_s,
                        "examples labelled": done.examples,
                        "examples learnt (horizon closed)": model.get("examples_learned", 0),
                        "online AUC so far (predict, then learn)": done.trainer("trainer_auc_so_far")
                        or "n/a",
                        "online log loss so far": done.trainer("trainer_logloss_so_far") or "n/a",
                        "online AUC, last 10k examples": model.get("rolling_auc", "n/a"),
                        "model version": model.get("version", "none"),
                    },
                )
            )
            chosen = sorted(stats.users, key=lambda u: (len(u), u))[:listeners]
            for recs in asyncio.run(_read_recs(settings, chosen, 10)):
                console.print(_recs_table(recs))
            console.print(
                f"worker logs: {fleet.log_dir}   serve them: encore api  ->  http://127.0.0.1:8000/"
            )
        finally:
            fleet.stop()
        if stop_cluster:
            cluster_down(base)
            console.print("cluster down")
