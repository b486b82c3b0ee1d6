"""Dataset files into Kafka: parse, dead-letter the rejects, replay the plays.

What `encore replay`, `encore demo`, the benchmarks and the tests run to put a
recorded dataset on the `plays` topic, with a progress bar for the person waiting.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cluster.settings import REPO_ROOT, ClusterSettings
from models.dead_letter import DeadLetter
from producers.kafka_io import PlayProducer
from producers.replay import ReplayStats, replay

#: The bundled real dataset (../shared/data beside the repo): 129,310 Last.fm plays.
LASTFM = REPO_ROOT.parent / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"

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
    from models.parsers import ParseReport
    from models.play_log import PlayLog

    report = ParseReport()
    plays = PlayLog.read(paths, format=fmt, user=user, report=report)  # ~50 B per play
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
