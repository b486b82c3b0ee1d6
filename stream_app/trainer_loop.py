"""The trainer's own reader of `examples`: one consumer, apart from Faust's.

Why apart. Through Faust's consumer the trainer starved whenever `plays` had a
backlog: aiokafka hands out fetched records one partition's fetch at a time, in the
order the fetches arrived, and Faust waits for the plays agent's buffer before it
delivers the next record. So the `examples` partition got one fetch per round of the
worker's `plays` fetches, and an example is about four times the bytes of a play: in
the 10-minute soak (2,000 plays/s) the trainer took 50-70 examples/s while the workers
resolved 2,000/s, and its backlog reached 931k examples. Its own consumer fetches
`examples` whatever `plays` holds.

Which worker trains: the one Faust's group gives partition :data:`TRAINER_SEAT` of
`plays`; exactly one worker owns it at a time. A rebalance revokes it (the loop stops
and the trainer hands over a resume snapshot) before anyone else is given it.

Where it reads from: the trainer's resume point (the `examples` offset after the last
example its snapshot holds); without one, the offset the trainer group
(:func:`trainer_group`) committed; without that, the beginning. The group's offset
tells tests and benchmarks how far the trainer has read (its lag). It runs ahead of
the resume point: a trainer that starts from it (no resume snapshot readable: Redis
away at take-over, a refused snapshot, a crash before the first one) starts a fresh
model there, without the examples before it, as the Faust consumer's commits did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from stream_app.examples_wire import ExampleMessage, decode_examples
from stream_app.trainer import Trainer

log = logging.getLogger("encore.stream")

#: The `plays` partition whose owner runs the trainer.
TRAINER_SEAT = 0
#: `examples` messages per batch (200 examples each): a batch holds the event loop
#: about 0.1 s, so the worker's plays and scoring keep their turns.
MESSAGES_PER_BATCH = 25
#: Seconds between commits of the trainer group's offset, and the longest one may take.
COMMIT_EVERY_S = 1.0
COMMIT_TIMEOUT_S = 5.0


def trainer_group(app_id: str) -> str:
    """The consumer group the trainer commits its `examples` offset under.

    >>> trainer_group("encore")
    'encore-trainer'
    """
    return f"{app_id}-trainer"


class TrainingLoop:
    """Feed one trainer from `examples` until stopped.

    ``after_take`` runs after every batch taken (counters); ``publish`` whenever
    ``snapshot_due`` says a snapshot is due.
    """

    def __init__(
        self,
        trainer: Trainer,
        *,
        bootstrap_servers: str,
        topic: str,
        group_id: str,
        max_message_bytes: int,
        after_take: Callable[[Trainer], None],
        snapshot_due: Callable[[Trainer], bool],
        publish: Callable[[Trainer], Awaitable[None]],
    ) -> None:
        self.trainer = trainer
        self._tp = TopicPartition(topic, 0)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=max_message_bytes,
            fetch_max_bytes=4 * max_message_bytes,
        )
        self._after_take = after_take
        self._snapshot_due = snapshot_due
        self._publish = publish
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._committed = -1
        self._last_commit = 0.0

    async def start(self) -> None:
        """Connect, find the offset to read from, and start reading in the background."""
        await self._consumer.start()
        self._consumer.assign([self._tp])
        start = self.trainer.next_offset or (await self._consumer.committed(self._tp)) or 0
        self._consumer.seek(self._tp, start)
        log.warning("trainer reads examples from offset %d", start)
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Finish the batch in hand, commit, disconnect."""
        self._stopping.set()
        try:
            if self._task is not None and not self._task.done():
                await asyncio.wait([self._task])  # the loop's own end; a cancelled caller still raises
            await self._commit(force=True)
        finally:
            await self._consumer.stop()

    @property
    def failed(self) -> BaseException | None:
        """What ended the loop, if it ended by itself."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    @property
    def lag(self) -> int:
        """Examples in the partition the trainer has not read yet."""
        highwater = self._consumer.highwater(self._tp)
        return max((highwater or 0) - self.trainer.next_offset, 0)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            batch = await self._consumer.getmany(self._tp, timeout_ms=250, max_records=MESSAGES_PER_BATCH)
            records = batch.get(self._tp, [])
            if records:
                messages: list[ExampleMessage] = []
                for record in records:
                    try:
                        messages.extend(decode_examples(record.value or b""))
                    except ValueError as exc:
                        log.error("undecodable examples at offset %d: %s", record.offset, exc)
                self.trainer.take(messages, next_offset=records[-1].offset + 1)
                self._after_take(self.trainer)
            await self._commit()  # also after a quiet poll: the last batch's offset too
            if self._snapshot_due(self.trainer):
                await self._publish(self.trainer)

    async def _commit(self, *, force: bool = False) -> None:
        offset = self.trainer.next_offset
        now = time.monotonic()
        if offset <= self._committed or (not force and now - self._last_commit < COMMIT_EVERY_S):
            return
        try:
            # Bounded: a hand-over (stop) runs inside a rebalance, which must not wait
            # out a broker that is away.
            await asyncio.wait_for(self._consumer.commit({self._tp: offset}), COMMIT_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:  # the broker away: the next commit carries it
            log.warning("trainer offset %d not committed yet: %r", offset, exc)
            self._last_commit = now  # tried: not again before COMMIT_EVERY_S
            return
        self._committed, self._last_commit = offset, now
