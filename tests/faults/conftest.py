"""Fixtures of the fault tests that stop a service.

Stopping the shared broker or Redis (the session's ``cluster``) would pull them from
under every other test and benchmark running on this machine, so a test that stops
one gets its own, started by the same code as ``encore cluster up`` on free ports
under ``.local/faults/``: ``private_redis`` (the shared Kafka, a Redis of its own) and
``private_kafka`` (a broker of its own, the shared Redis). Both are stopped and their
files removed at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from cluster import ClusterSettings, down, up
from cluster.kafka import KafkaPaths, jars_complete
from tests.faults.harness import free_port


def _private_dir(cluster: ClusterSettings, what: str) -> ClusterSettings:
    root = cluster.local_dir / "faults" / f"{what}-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    return cluster.model_copy(update={"local_dir": root, "kafka_bootstrap": None, "redis_host": None})


@contextlib.contextmanager
def _own(settings: ClusterSettings, service: str) -> Iterator[ClusterSettings]:
    try:
        status = up(settings)
    except Exception as exc:
        pytest.fail(f"a private {service} could not be brought up: {exc}", pytrace=False)
    try:
        assert status.started == [service], status
        yield settings
    finally:
        down(settings, services=[service])
        shutil.rmtree(settings.local_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def private_redis(cluster: ClusterSettings) -> Iterator[ClusterSettings]:
    """The shared Kafka and a Redis of this session's own, free to stop and start."""
    settings = _private_dir(cluster, "redis").model_copy(update={"redis_port": free_port()})
    with _own(settings, "redis") as own:
        yield own


@pytest.fixture(scope="session")
def private_kafka(cluster: ClusterSettings) -> Iterator[ClusterSettings]:
    """A Kafka broker of this session's own, free to stop and start, and the shared Redis."""
    settings = _private_dir(cluster, "kafka").model_copy(
        update={"kafka_port": free_port(), "kafka_controller_port": free_port(), "kafka_heap": "512m"}
    )
    shared, mine = KafkaPaths.of(cluster), KafkaPaths.of(settings)
    if jars_complete(shared):  # the jars Maven fetched once, linked rather than fetched again
        mine.lib.mkdir(parents=True)
        for jar in shared.lib.iterdir():
            os.link(jar, mine.lib / jar.name)
    with _own(settings, "kafka") as own:
        yield own
