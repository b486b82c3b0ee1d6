"""One real stream run shared by the e2e tests (it costs about 30 s), and its offline twin.

``stream_run`` needs the session's ``cluster`` (tests/conftest.py), which fails rather
than skips when Kafka or Redis cannot come up: these tests never pass without them.
"""

from __future__ import annotations

import pytest

from cluster.settings import ClusterSettings
from tests.e2e.stream_run import OfflineRun, StreamRun, offline_run, run_stream


@pytest.fixture(scope="session")
def stream_run(cluster: ClusterSettings) -> StreamRun:
    """A Last.fm slice through real Kafka, two Faust workers and Redis (already torn down)."""
    return run_stream(cluster, workers=2)


@pytest.fixture(scope="session")
def offline(stream_run: StreamRun) -> OfflineRun:
    """``encore evaluate``'s feature and label path over the very same plays."""
    return offline_run(stream_run.slice.plays)
