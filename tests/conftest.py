"""Shared fixtures: the real local cluster for integration, e2e and fault tests,
started by the same code as `encore cluster up`.

``cluster`` (session scope) yields the :class:`ClusterSettings` of a Kafka broker and
a Redis that answer. A cluster that is already up (a developer's `encore cluster up`)
is reused and left running; whatever this session started, and only that, is stopped
at the end. If the cluster cannot come up, every test that needs it fails: it is never
skipped, so a test that needs Kafka cannot silently pass without it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cluster import ClusterSettings, ClusterStatus, down, up


@pytest.fixture(scope="session")
def cluster_status() -> Iterator[ClusterStatus]:
    """What `up` did for this session (which services it started, their pids)."""
    settings = ClusterSettings()
    try:
        status = up(settings)
    except Exception as exc:  # any reason at all: fail loudly, never skip
        pytest.fail(
            f"the local cluster (Kafka {settings.host}:{settings.kafka_port}, Redis "
            f"{settings.host}:{settings.redis_port}) could not be brought up: {exc}",
            pytrace=False,
        )
    try:
        yield status
    finally:
        if status.started:
            down(settings, services=status.started)


@pytest.fixture(scope="session")
def cluster(cluster_status: ClusterStatus) -> ClusterSettings:
    """Settings of a running local cluster (Kafka + Redis, topics created)."""
    return ClusterSettings()
