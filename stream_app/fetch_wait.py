"""How long the broker may hold the worker's fetch request when it has nothing new.

Faust (faust-streaming 0.15.3) builds its aiokafka consumer with
``fetch_max_wait_ms=1500`` written into the code (robinhood/faust#281 asked to make it
a setting; it never landed). aiokafka keeps one fetch request in flight per broker,
and a partition whose fetched records the app has not taken yet is left out of the
next request. So while the plays agent works on a batch, the request in flight can
hold only partitions that are quiet: the other worker's changelog partitions this
worker keeps as standbys, which the listener table writes every second or few (see
``StreamSettings.table_write_every_s``). The broker then holds it the full 1.5 s, and
the `plays` partitions wait behind it.

Measured with ``encore bench freshness`` (1,000 plays/s, 2 workers, 2026-12-08): a
play's age when the plays agent took it was p50 0.8-1.0 s, p90 1.4-1.7 s; with a
20 ms wait, p50 0.3 s. Produce -> recommendations rewritten went from p50 1.05-1.34 s,
p99 2.03-2.50 s to p50 0.49-0.55 s, p99 1.12-1.19 s with 50 ms (two runs each;
docs/performance.md has them).

A shorter wait costs an idle worker a few empty fetches a second; a busy one never
waits, because its partitions always hold data.

The app sets it on its consumer class (``PlaysConsumer.fetch_max_wait_ms``, from
``StreamSettings.fetch_max_wait_ms``); tests/unit/stream_app/test_fetch_wait.py builds
the worker consumer the way Faust does and reads the wait back.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

#: Faust's own value, kept where a consumer names none.
FAUST_FETCH_MAX_WAIT_MS = 1500


class FetchWaitThread(AIOKafkaConsumerThread):
    """Faust's consumer thread; its worker consumer waits at most the
    ``fetch_max_wait_ms`` of the Faust consumer it serves."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read once, by AIOKafkaConsumer.start(), when it builds its Fetcher.
        consumer._fetch_max_wait_ms = getattr(self.consumer, "fetch_max_wait_ms", FAUST_FETCH_MAX_WAIT_MS)
        return consumer
