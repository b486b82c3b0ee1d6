"""The worker's Kafka consumer waits the fetch time the settings give, not Faust's 1.5 s.

Built the way Faust builds it when a worker starts (its consumer thread makes the
aiokafka consumer); nothing connects to a broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Consumer

from stream_app.fetch_wait import FAUST_FETCH_MAX_WAIT_MS
from stream_app.offsets import PlaysConsumer


def fetch_wait_of(consumer_class: type[Any]) -> int:
    """``fetch_max_wait_ms`` of the aiokafka consumer a worker with this Faust
    consumer class would fetch with."""

    async def build() -> int:
        app = faust.App("fetch-wait-test", broker="kafka://localhost:1", store="memory://")
        app.transport.Consumer = consumer_class
        kafka = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(kafka._fetch_max_wait_ms)
        finally:
            await kafka.stop()

    return asyncio.run(build())


def test_faust_alone_waits_its_own_one_and_a_half_seconds() -> None:
    """What the setting overrides; if Faust changes it, fetch_wait.py's reasoning needs
    a second look."""
    assert fetch_wait_of(Consumer) == FAUST_FETCH_MAX_WAIT_MS == 1500


def test_the_plays_consumer_waits_what_it_is_given() -> None:
    class Quick(PlaysConsumer):
        fetch_max_wait_ms = 20

    assert fetch_wait_of(Quick) == 20


def test_the_app_gives_its_consumer_the_setting() -> None:
    from stream_app.app import app, stream

    assert stream.fetch_max_wait_ms < FAUST_FETCH_MAX_WAIT_MS
    assert type(app.consumer).fetch_max_wait_ms == stream.fetch_max_wait_ms
