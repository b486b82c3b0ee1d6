"""The Kafka broker stopped for 15 s mid-replay and started again: the producer and the
workers recover by themselves, and the end state equals the offline path.

A broker of this session's own (``private_kafka``; the shared one stays up for
everybody else), two ``encore worker`` processes and `encore replay` sending the first
30,000 Last.fm plays over about 40 s. A quarter of the way in the broker is stopped
(SIGTERM, as `encore cluster down` does), kept down 15 s, and started again on the same
data. Nobody restarts the producer or the workers: the replay must finish and say it
sent every play, every play must be in `plays` exactly once, and when the stream has
drained the listener table must equal the offline path as in the kill -9 test.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from cluster import ClusterSettings, down, up
from cluster.process import port_open
from tests.faults.harness import (
    assert_same_end_state,
    lastfm_slice,
    read_topic,
    speed_for,
    stream_run,
    wait_drained,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

PLAYS = 30_000
REPLAY_S = 40.0
DOWN_S = 15.0


def test_kafka_down_for_15_s_mid_replay(private_kafka: ClusterSettings, tmp_path: Path) -> None:
    started = time.monotonic()
    path, plays = lastfm_slice(PLAYS, tmp_path)
    with stream_run(private_kafka, "kafka", tmp_path) as run:
        run.start_workers(2)
        replay = run.start_replay(path, speed=speed_for(plays, REPLAY_S))
        wait_for(lambda: run.progress() >= PLAYS // 4, 90, "a quarter of the plays", abort=run.died)

        [stopped] = down(private_kafka, services=["kafka"])
        assert stopped.action.value == "stopped", stopped
        gone = time.monotonic()
        taken_when_stopped = run.progress()
        # The fault: no broker for DOWN_S. Producer and workers must ride it out.
        while time.monotonic() - gone < DOWN_S:
            assert not port_open(private_kafka.host, private_kafka.kafka_port)
            assert run.died() is None, run.died()
            assert replay.poll() is None, f"the replay gave up while Kafka was down:\n{run.replay_output()}"
            time.sleep(0.5)
        status = up(private_kafka)
        assert status.started == ["kafka"]
        back = time.monotonic()

        assert replay.wait(timeout=150) == 0, run.replay_output()
        assert run.replay_summary()["sent"] == PLAYS
        replay_done = time.monotonic()
        drain_s = wait_drained(run, messages=PLAYS, deadline_s=150)

        # Every play in Kafka, once: the idempotent producer wrote none twice.
        sent = Counter(
            orjson.loads(v)["event_id"]
            for _p, _o, _k, v in read_topic(run.settings, run.settings.plays_topic)
        )
        assert set(sent) == {p.event_id for p in plays}
        assert max(sent.values()) == 1
        end = assert_same_end_state(run, plays)
        assert end["plays"] == PLAYS
        assert end["late"] == 0  # the watermark never ran ahead of a partition
        assert end["labels_compared"] > PLAYS * 0.8 and end["negative"] > 1000
        assert run.died() is None
        for i in (0, 1):
            assert "Crashed" not in run.worker_log(i), run.worker_log(i)[-3000:]
    print(
        f"\nKafka down {back - gone:.1f} s (stopped after {taken_when_stopped} of {PLAYS} plays taken); "
        f"replay finished {replay_done - back:.1f} s after the broker returned, stream drained "
        f"{drain_s:.1f} s later; end state {end}; total {time.monotonic() - started:.1f} s"
    )
