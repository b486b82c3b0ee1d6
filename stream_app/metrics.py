"""Prometheus metrics of a worker: plays, dead letters, late plays, lag, learning.

Exposed on ``ENCORE_METRICS_PORT`` (0 = not exposed; each worker needs its own port).
Each worker uses its own registry, so tests can build several in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from stream_app.listening import BatchOutcome


class WorkerMetrics:
    """The counters and gauges a worker updates per batch."""

    def __init__(self, *, port: int = 0) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.plays = Counter("encore_plays_total", "Plays taken from Kafka, by outcome", ["kind"], registry=r)
        self.dead_letters = Counter("encore_dead_letters_total", "Messages sent to plays-dlq", registry=r)
        self.late = Counter("encore_late_plays_total", "Plays behind the watermark on arrival", registry=r)
        self.examples = Counter("encore_examples_total", "Examples labelled", ["label"], registry=r)
        self.examples_learned = Gauge("encore_examples_learned", "Examples the trainer learnt", registry=r)
        self.rolling_auc = Gauge("encore_rolling_auc", "Trainer's rolling AUC", registry=r)
        self.consumer_lag = Gauge("encore_consumer_lag", "Plays waiting in Kafka for this worker", registry=r)
        self.recs_written = Counter("encore_recommendations_written_total", "Listener lists rewritten",
                                    registry=r)  # fmt: skip
        self.redis_errors = Counter("encore_redis_errors_total", "Redis writes that failed", registry=r)
        self.model_refused = Gauge("encore_model_snapshots_refused", "Snapshots refused (bad HMAC)",
                                   registry=r)  # fmt: skip
        if port:
            start_http_server(port, addr="127.0.0.1", registry=r)

    def observe_batch(self, out: BatchOutcome) -> None:
        for kind, n in out.counts.items():
            if kind == "late":
                self.late.inc(n)
            else:
                self.plays.labels(kind=kind).inc(n)
        positives = sum(1 for e in out.examples if e.label)
        if positives:
            self.examples.labels(label="positive").inc(positives)
        if len(out.examples) - positives:
            self.examples.labels(label="negative").inc(len(out.examples) - positives)
