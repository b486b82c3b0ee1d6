"""A tampered model snapshot in Redis is refused and logged; the previous model keeps serving.

A worker learns from real plays until its trainer has published a signed snapshot and
the worker serves it. Then the test writes two bad snapshots to ``model:latest``, each
under a new version so the worker picks it up: the real snapshot with one byte of its
pickle changed, and a pickle that would run a command when loaded, signed with another
key. Each must be refused before anything is unpickled (the command never runs), logged
with the version still served, and counted in ``encore_model_snapshots_refused``; a
listener scored afterwards is scored by the previous model.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from cluster import ClusterSettings
from models.events import PlayEvent
from models.snapshot import dump_snapshot, load_snapshot
from producers.kafka_io import PlayProducer
from stream_app.fleet import totals
from stream_app.recs_store import ModelMetrics, ModelSnapshot
from tests.faults.harness import free_port, lastfm_slice, stream_run, wait_drained, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

PLAYS = 8000


class Payload:
    """Unpickling this runs ``touch <marker>``: what an attacker's snapshot would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def refused_metric(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    m = re.search(r"^encore_model_snapshots_refused (\S+)$", text, re.M)
    assert m, text[-2000:]
    return float(m.group(1))


def test_tampered_snapshots_are_refused_and_the_previous_model_keeps_serving(
    cluster: ClusterSettings, tmp_path: Path
) -> None:
    started = time.monotonic()
    _, plays = lastfm_slice(PLAYS, tmp_path)
    metrics_port = free_port()
    with stream_run(cluster, "tamper", tmp_path, extra_env={"ENCORE_METRICS_PORT": str(metrics_port)}) as run:
        run.start_workers(1)
        with PlayProducer(run.settings) as producer:
            for play in plays:
                producer.send(play)
        wait_drained(run, messages=PLAYS, deadline_s=120)

        # The trainer's last snapshot covers everything it learnt, and the worker serves it.
        def serving_final_model() -> bool:
            info = run.writer.read_model_info()
            learnt = totals(run.writer).trainer("trainer_learnt")
            return (
                bool(info)
                and learnt is not None
                and info["examples_learned"] == learnt > 0
                and f"model {info['version']} loaded" in run.worker_log(0)
            )

        wait_for(serving_final_model, 60, "the worker to serve the trainer's final snapshot", abort=run.died)
        good = run.writer.read_model_snapshot()
        assert good is not None
        metrics = ModelMetrics(examples_learned=run.writer.read_model_info()["examples_learned"])
        assert refused_metric(metrics_port) == 0

        # 1. The real snapshot with one byte of its pickle changed.
        flipped = bytearray(good.data)
        flipped[-10] ^= 0x01
        bad_bytes = ModelSnapshot.of_blob(f"{good.version}-tampered", bytes(flipped))
        # 2. A pickle that runs a command when loaded, signed with a key that is not ours.
        marker = tmp_path / "snapshot-code-ran"
        evil = ModelSnapshot.of_blob(
            f"{good.version}-wrong-key", dump_snapshot(Payload(marker), version=10**6, key=b"not the key")
        )
        for n, bad in enumerate([bad_bytes, evil], 1):
            run.writer.publish_model(bad, metrics)
            line = (
                f"refused model snapshot {bad.version} (snapshot HMAC does not match: refusing to "
                f"unpickle it); still serving {good.version}"
            )
            wait_for(lambda line=line: line in run.worker_log(0), 30, f"the refusal of {bad.version}",
                     abort=run.died)  # fmt: skip
            wait_for(lambda n=n: refused_metric(metrics_port) == n, 10, f"{n} refusals counted")
        assert not marker.exists(), "the forged snapshot was unpickled"
        # ...and the payload is live: loaded with the key it was signed with, it runs.
        load_snapshot(evil.data, key=b"not the key")
        assert marker.exists()
        marker.unlink()
        assert f"model {bad_bytes.version} loaded" not in run.worker_log(0)
        assert f"model {evil.version} loaded" not in run.worker_log(0)

        # The previous model keeps serving: a listener who plays now is scored with it.
        # (A play older than the watermark: it resolves no label, so the trainer has
        # nothing new to learn and publishes no newer snapshot meanwhile.)
        probe = PlayEvent(user_id="tamper-probe", track_id=plays[-1].track_id, played_at=plays[0].played_at)
        tampered_at = time.time()
        with PlayProducer(run.settings) as producer:
            producer.send(probe)
        meta_key = f"{run.settings.redis_prefix}recs-meta:{probe.user_id}"

        def probe_scored() -> bool:
            return bool(run.writer.client.exists(meta_key))

        wait_for(probe_scored, 30, "the probe listener's recommendations", abort=run.died)
        meta = {k.decode(): v.decode() for k, v in run.writer.client.hgetall(meta_key).items()}
        assert meta["model_version"] == good.version
        assert run.writer.read_model_info()["version"] == evil.version  # still the forged one in Redis
        assert run.died() is None
    print(
        f"\ntampered snapshot: refused {bad_bytes.version} and {evil.version}, served {good.version} "
        f"(probe scored {meta['scored_at']}, {time.time() - tampered_at:.1f} s after); "
        f"total {time.monotonic() - started:.1f} s"
    )
