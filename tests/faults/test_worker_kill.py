"""kill -9 one of two workers mid-stream, restart it: the end state equals the offline path.

Two ``encore worker`` processes consume a real replay (`encore replay`, the first 30,000
plays of the bundled Last.fm file, spread over about 40 s). Once the workers' counters
show a fifth of the plays taken, the worker that runs the trainer (and consumes half of
the plays) is killed with SIGKILL; when the survivor has taken over all eight partitions
and the trainer, the killed worker is started again and takes its share back. When Kafka
says every play and every example is committed, the listener table (read from its
changelog) must equal ``encore evaluate``'s path over the same plays: feature state
exactly, label counts over the plays whose label resolved in the stream. Every one of
those examples must have reached the trainer with the offline label, and the model's
lineage (the killed trainer, then its successor continuing the last snapshot) must have
taken each exactly once.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from cluster import ClusterSettings
from stream_app.fleet import totals
from tests.faults.harness import (
    assert_same_end_state,
    examples_on_topic,
    lag,
    lastfm_slice,
    offline_end_state,
    partitions_line,
    speed_for,
    stream_run,
    wait_drained,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

PLAYS = 30_000
REPLAY_S = 40.0


def test_kill_9_a_worker_mid_stream_and_restart_it(cluster: ClusterSettings, tmp_path: Path) -> None:
    started = time.monotonic()
    path, plays = lastfm_slice(PLAYS, tmp_path)
    with stream_run(cluster, "kill9", tmp_path) as run:
        run.start_workers(2)
        replay = run.start_replay(path, speed=speed_for(plays, REPLAY_S))

        wait_for(lambda: run.progress() >= PLAYS // 5, 90, "a fifth of the plays", abort=run.died)
        wait_for(lambda: run.worker_of_trainer() is not None, 30, "the trainer to report", abort=run.died)
        # The worker that runs the trainer: it also consumes plays, so its death costs
        # both a share of the listeners and the model's trainer.
        victim = run.worker_of_trainer()
        assert victim is not None
        survivor = 1 - victim
        taken_at_kill = run.progress()
        run.kill(victim)
        killed_at = time.monotonic()
        assert run.fleet.procs[victim].returncode == -9

        def survivor_owns_all() -> bool:
            loaded = partitions_line(run.worker_log(survivor))
            return any(len(p) == run.settings.plays_partitions for p in loaded)

        takeover_s = wait_for(survivor_owns_all, 60, "the survivor to take every partition", abort=run.died)
        backlog = lag(run, run.settings.plays_topic)
        assert replay.poll() is None or backlog, "the stream drained before the restart: not mid-stream"
        run.restart(victim)
        restarted = f"{socket.gethostname()}-{run.fleet.pids()[victim]}"

        def restarted_works() -> bool:
            return run.writer.worker_stats().get(restarted, {}).get("plays", 0) > 0

        wait_for(restarted_works, 90, "the restarted worker to take plays again", abort=run.died)
        assert replay.wait(timeout=120) == 0, run.replay_output()
        assert run.replay_summary()["sent"] == PLAYS
        # The kill landed mid-stream: plays were still to come when it happened.
        assert taken_at_kill < PLAYS

        drain_s = wait_drained(run, messages=PLAYS, deadline_s=120)
        figures = assert_same_end_state(run, plays)
        assert figures["plays"] == PLAYS  # no play lost, none counted twice
        assert figures["late"] == 0  # the watermark never ran ahead of a partition
        # Most labels resolved in the stream, both kinds: the comparison has teeth.
        assert figures["labels_compared"] > PLAYS * 0.8 and figures["negative"] > 1000

        # The model's lineage took every distinct example exactly once, across the
        # trainer's move: the new trainer continued the last snapshot from the examples
        # offset it records, and dropped redelivered copies by event id.
        _, seen = examples_on_topic(run, offline_end_state(plays))
        now_trains = run.worker_of_trainer()
        assert now_trains is not None
        name = f"{socket.gethostname()}-{run.fleet.pids()[now_trains]}"
        final = totals(run.writer).raw[name]
        took = {n: (int(s["trainer_examples"]), int(s["trainer_duplicates"]))
                for n, s in totals(run.writer).raw.items() if "trainer_examples" in s}  # fmt: skip
        assert len(took) >= 2, "the trainer did not move"
        assert final["trainer_taken"] == seen.distinct, (final, took, seen)
    print(
        f"\nkill -9: {figures}; trainer processes (fresh, dropped): {took}; killed after "
        f"{taken_at_kill} plays, survivor took over in {takeover_s:.1f} s, "
        f"drained {drain_s:.1f} s after the replay; "
        f"{time.monotonic() - killed_at:.1f} s from kill to checked; total {time.monotonic() - started:.1f} s"
    )
