"""A worker's Prometheus endpoint serves the counters a batch updates."""

from __future__ import annotations

import socket
import urllib.request
from collections import Counter
from datetime import UTC, datetime

from models.events import PlayEvent
from models.labels import Example
from stream_app.listening import BatchOutcome
from stream_app.metrics import WorkerMetrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_batch_counters_are_served_in_prometheus_format() -> None:
    port = _free_port()
    metrics = WorkerMetrics(port=port)
    play = PlayEvent(user_id="ana", track_id="t", played_at=datetime(2024, 1, 1, tzinfo=UTC))
    out = BatchOutcome(
        examples=[
            Example("ana", "t", "e1", 0.0, {}, True, 1.0),
            Example("ana", "u", "e2", 0.0, {}, False, 2.0),
        ],
        counted=[(play, {})],
        counts=Counter({"play": 3, "duplicate": 1, "late": 2}),
    )
    metrics.observe_batch(out)
    metrics.dead_letters.inc(4)
    metrics.consumer_lag.set(17)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'encore_plays_total{kind="play"} 3.0' in body
    assert 'encore_plays_total{kind="duplicate"} 1.0' in body
    assert "encore_late_plays_total 2.0" in body
    assert 'encore_examples_total{label="positive"} 1.0' in body
    assert 'encore_examples_total{label="negative"} 1.0' in body
    assert "encore_dead_letters_total 4.0" in body
    assert "encore_consumer_lag 17.0" in body
