"""The plays agent's own record of how far it got in each `plays` partition.

A play must be folded into its listener's state exactly once, in partition order.
Faust (faust-streaming 0.15.3) breaks that three ways under rebalances, each seen in
the kill -9 fault test (`tests/faults/test_worker_kill.py`) with a per-batch trace of
offsets:

- **it skips a message.** On the worker that had just taken every partition over,
  one batch ended at offset 1284 of partition 0 and the next began at 1286, in the
  same consumer generation. 1285 never reached the agent. Faust moves fetch positions
  and its own "read offset" under a running stream: recovery seeks the stream's
  partitions to their committed offsets and clears the streams' queues
  (``FlowControlEvent.resume`` does), and a fetch is cut short when flow stops.
- **it delivers a message again.** After such seeks, a partition restarted at its
  last delivered offset, or 40 offsets back.
- **it commits past plays nobody folded in.** A stream acknowledges the messages it
  skips (stale generation, flow suspended), and a revocation forgets the committed
  offset before it waits for the streams. So the first run of acknowledged offsets
  it commits need not start at the committed offset.

One to twenty plays were lost in some runs; none were counted twice, because plays
are de-duplicated by event id. With this module, 7 of 27 runs had skipped offsets
filled (24 in all) and all 27 ended in the offline end state.

So the agent keeps, per partition, the offset after the last message it folded in
(:class:`FoldedOffsets`, seeded from the group's committed offset when the partition
is assigned) and holds Faust to it:

- :class:`PlaysConsumer` commits that offset, never Faust's own. Faust flushes the
  producer before it commits, so a committed offset still means that everything it
  covers is in Kafka.
- :func:`in_offset_order` drops a message the agent has already folded in. It fills
  a gap by reading the missing offsets straight from Kafka (:class:`GapReader`,
  a consumer of the agent's own that never joins the group or commits).
- An offset Kafka has no message for (compaction, transaction markers, retention) is
  a hole in the log, not a loss, and is passed over.

>>> import asyncio
>>> from faust.types import TP
>>> tp = TP("plays", 3)
>>> folded = FoldedOffsets()
>>> folded.seed({tp: 811})
>>> async def missing(tp, start, end):  # what Kafka holds at the offsets skipped
...     return [Delivered(tp, o, b"play %d" % o) for o in range(start, end)]
>>> batch = [Delivered(tp, o, b"play %d" % o) for o in (811, 812, 814, 812, 815)]
>>> ordered = asyncio.run(in_offset_order(batch, folded, missing))
>>> [d.offset for d in ordered.messages], ordered.filled, ordered.repeated
([811, 812, 813, 814, 815], 1, 1)
>>> folded.folded(ordered.messages)
>>> folded.next_offset(tp)
816
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from faust.transport.drivers.aiokafka import Consumer
from faust.types import TP

log = logging.getLogger("encore.stream")


@dataclass(frozen=True, slots=True)
class Delivered:
    """One `plays` message as the agent folds it: where it sits and its bytes."""

    tp: TP
    offset: int
    value: bytes | None

    @property
    def location(self) -> str:
        return f"{self.tp.topic}[{self.tp.partition}]@{self.offset}"


class FoldedOffsets:
    """Per partition, the offset after the last message the agent has folded in."""

    def __init__(self) -> None:
        self._next: dict[TP, int] = {}

    def seed(self, committed: Mapping[TP, int]) -> None:
        """A partition assigned: everything before its committed offset is folded in."""
        self._next.update(committed)

    def folded(self, messages: Iterable[Delivered]) -> None:
        """A batch is done: its examples, dead letters and states are with the producer."""
        nxt = self._next
        for m in messages:
            if m.offset >= nxt.get(m.tp, 0):
                nxt[m.tp] = m.offset + 1

    def next_offset(self, tp: TP) -> int | None:
        return self._next.get(tp)

    def partitions(self) -> dict[TP, int]:
        return dict(self._next)

    def forget(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self._next.pop(tp, None)


#: The one record of this worker process (the app has one plays agent).
FOLDED = FoldedOffsets()

#: Reads the messages of ``tp`` in ``[start, end)`` from Kafka.
ReadRange = Callable[[TP, int, int], Awaitable[list[Delivered]]]


@dataclass(kw_only=True)
class InOrder:
    """A batch put in offset order: what to fold, and what was mended."""

    messages: list[Delivered] = field(default_factory=list)
    #: Messages read from Kafka because the stream skipped them.
    filled: int = 0
    #: Messages dropped because the agent had folded them in already.
    repeated: int = 0


async def in_offset_order(batch: Sequence[Delivered], folded: FoldedOffsets, read: ReadRange) -> InOrder:
    """``batch`` (the stream's order) as the agent must fold it: per partition, every
    offset after the last one folded in, once each and in order."""
    out = InOrder()
    expected: dict[TP, int] = {}
    for m in batch:
        nxt = expected.get(m.tp)
        if nxt is None:
            nxt = folded.next_offset(m.tp)
            if nxt is None:  # not seeded (never in practice): trust the first
                nxt = m.offset
        if m.offset < nxt:
            out.repeated += 1
            continue
        if m.offset > nxt:
            missing = await read(m.tp, nxt, m.offset)
            log.warning(
                "%s: the stream skipped offsets %d..%d, %d read from Kafka",
                m.location, nxt, m.offset - 1, len(missing),
            )  # fmt: skip
            out.messages.extend(missing)
            out.filled += len(missing)
        out.messages.append(m)
        expected[m.tp] = m.offset + 1
    return out


class GapReader:
    """Reads ranges of `plays` straight from Kafka: a consumer of the agent's own,
    started on first use. It only fetches and asks the group's committed offsets. It
    never joins the group and never commits."""

    def __init__(self, *, bootstrap_servers: str, group_id: str, max_message_bytes: int) -> None:
        self._settings = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": max_message_bytes,
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(**self._settings)
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def committed(self, tps: Iterable[TP]) -> dict[TP, int]:
        """The group's committed offset of each partition (0 where it has none)."""
        async with self._lock:
            consumer = await self._started()
            return {tp: await consumer.committed(TopicPartition(tp.topic, tp.partition)) or 0 for tp in tps}

    async def read(self, tp: TP, start: int, end: int, *, deadline_s: float = 60.0) -> list[Delivered]:
        """Every message of ``tp`` at offsets ``[start, end)``, in order; an offset
        Kafka holds no message for is left out. Raises after ``deadline_s``."""
        async with self._lock:
            consumer = await self._started()
            part = TopicPartition(tp.topic, tp.partition)
            consumer.assign([part])
            consumer.seek(part, start)
            out: list[Delivered] = []
            give_up = time.monotonic() + deadline_s
            while await consumer.position(part) < end:
                if time.monotonic() > give_up:
                    where = f"{tp.topic}[{tp.partition}] offsets {start}..{end - 1}"
                    raise TimeoutError(f"{where} unread after {deadline_s:.0f} s")
                batch = await consumer.getmany(part, timeout_ms=500)
                records = batch.get(part, [])
                out.extend(Delivered(tp, r.offset, r.value) for r in records if start <= r.offset < end)
            return out

    async def stop(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()


class PlaysConsumer(Consumer):
    """Faust's Kafka consumer, committing `plays` offsets from :data:`FOLDED` only."""

    #: Topics whose commits follow :data:`FOLDED` (set by the app).
    folded_topics: frozenset[str] = frozenset()

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        tps = list(tps)
        offsets: dict[TP, int] = super()._filter_committable_offsets(
            [tp for tp in tps if tp.topic not in self.folded_topics]
        )
        for tp in tps:
            if tp.topic not in self.folded_topics:
                continue
            # Faust's acknowledgements of this partition are not what gets committed:
            # dropped, so none pile up.
            self._acked[tp].clear()
            self._acked_index[tp].clear()
            done = FOLDED.next_offset(tp)
            if done is not None and self._should_commit(tp, done):
                offsets[tp] = done
        return offsets
