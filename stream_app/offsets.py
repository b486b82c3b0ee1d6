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
are de-duplicated by event id. With this module (97 runs over five revisions of it on
2026-12-03, the last 12 on the final code), every run that drained ended in the
offline end state, 37 of them with skipped offsets filled; one run timed out waiting
for the survivor to take every partition over.

So the agent keeps, per partition, the offset after the last message it folded in
(:class:`FoldedOffsets`), and the offset up to which the listener states that
folding changed are written to the table (the agent writes them at most every
``table_write_every_s``, not after every batch). The record is seeded with the very
offsets Faust seeks an assigned partition to, and the agent holds Faust to it:

- :class:`PlaysConsumer` commits the written offset, never Faust's own, whether or
  not Faust has acknowledged anything since. Faust flushes the producer before it
  commits, so a committed offset still means that everything it covers is in Kafka.
- What was folded but not written is folded again after a rebalance: the agent
  drops it (:meth:`FoldedOffsets.drop_unwritten`) and reloads its listeners from the
  table.
- :func:`in_offset_order` drops a message the agent has already folded in. It fills
  a gap by reading the missing offsets straight from Kafka (:class:`GapReader`,
  a consumer of the agent's own that never joins the group or commits).
- An offset Kafka has no message for (compaction, transaction markers, retention) is
  a hole in the log, not a loss, and is passed over.
- A skipped message with none after it in its partition is not lost either: the
  commit stays before it, so it is filled when the partition's next message comes,
  or read again by whoever owns the partition after a rebalance or a restart.

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
>>> folded.folded(ordered.messages, epoch=folded.epoch)  # no rebalance since the batch began
True
>>> folded.next_offset(tp), folded.committable(tp)
(816, 811)
>>> folded.written()
>>> folded.committable(tp)
816
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from faust.transport.drivers.aiokafka import Consumer
from faust.types import TP

from stream_app.fetch_wait import FAUST_FETCH_MAX_WAIT_MS, FetchWaitThread

log = logging.getLogger("encore.offsets")


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
    """Per partition, the offset after the last message the agent has folded in.

    ``epoch`` counts rebalance steps (each revocation and each assignment): a seek
    that started before one must not seed the record after it. A seek that began
    between a revocation and the next assignment read the old assignment, whose
    partitions may belong to another worker by the time it ends; its stale offsets
    once outlived that ownership and made a later takeover re-read whole partitions.
    """

    def __init__(self) -> None:
        #: Per partition: the offset after the last message whose listener states are
        #: written to the table (what is committed).
        self._next: dict[TP, int] = {}
        #: Per partition: the offset after the last message folded into the in-memory
        #: state, where that is ahead of ``_next`` (states not written yet).
        self._ahead: dict[TP, int] = {}
        self._assigned: frozenset[TP] | None = None
        self.epoch = 0

    def seed(self, start: Mapping[TP, int], *, epoch: int | None = None) -> None:
        """The stream (re)starts partitions at ``start``: everything before is folded in.

        Each seek replaces the record, so a value left over from an earlier ownership
        cannot outlive it. A seed is a committed offset, so it is never ahead of what
        was folded. When Faust seeks back mid-assignment, the plays between come again
        and are repeats, which de-duplication by event id makes harmless. (Keeping the
        older record instead let a startup seek that finished after the next
        revocation re-read 240-1,100 plays per partition at a later takeover.)
        A seed from an ``epoch`` older than the record's is dropped, and so is a
        partition outside the current assignment."""
        if epoch is not None and epoch != self.epoch:
            log.info("seek of epoch %d dropped at epoch %d: %s", epoch, self.epoch, _offsets(start))
            return
        if self._assigned is not None:
            start = {tp: o for tp, o in start.items() if tp in self._assigned}
        self._next.update(start)
        for tp in start:
            self._ahead.pop(tp, None)
        log.info("seeded at epoch %d: %s", self.epoch, _offsets(start))

    def folded(self, messages: Iterable[Delivered], *, epoch: int | None = None) -> bool:
        """A batch is folded into the in-memory state, its examples and dead letters
        are with the producer; its listeners' states are not written yet
        (:meth:`written`). Returns whether the batch counts.

        A batch that began before a rebalance step (``epoch`` older than the record's)
        does not: the revocation dropped what was folded before it, so the batch's
        states sit on plays the record no longer holds, and its partitions may be
        another worker's by now. Counted, the next write made them committable while
        only the batch's own listeners were written: the plays folded between the last
        write and the batch were committed and lost (21+ plays of one partition in a
        kill -9 CI run on 2026-12-07). The caller reloads its listeners from the table
        and the stream folds those plays again."""
        if epoch is not None and epoch != self.epoch:
            log.warning("a batch begun at epoch %d ended at epoch %d: folded again", epoch, self.epoch)
            return False
        ahead, nxt = self._ahead, self._next
        for m in messages:
            if m.offset >= ahead.get(m.tp, nxt.get(m.tp, 0)):
                ahead[m.tp] = m.offset + 1
        return True

    def written(self) -> None:
        """The states of everything folded are with the producer: it may be committed."""
        self._next.update(self._ahead)
        self._ahead.clear()

    def unwritten(self) -> bool:
        """Is anything folded whose states are not written?"""
        return bool(self._ahead)

    def drop_unwritten(self) -> None:
        """The in-memory state goes back to the table's: what was folded since the last
        write is to be folded again (:func:`in_offset_order` reads it from Kafka when
        the stream has moved past it)."""
        self._ahead.clear()

    def next_offset(self, tp: TP) -> int | None:
        """The offset after the last message folded in (written or not)."""
        return self._ahead.get(tp, self._next.get(tp))

    def committable(self, tp: TP) -> int | None:
        """The offset after the last message whose states are written."""
        return self._next.get(tp)

    def partitions(self) -> dict[TP, int]:
        """Every partition with a record, at its committable offset."""
        return dict(self._next)

    def assigned(self, tps: Iterable[TP]) -> None:
        """A new assignment: the record keeps only partitions in it, until seeded."""
        self.epoch += 1
        self._assigned = frozenset(tps)
        for record in (self._next, self._ahead):
            for tp in [tp for tp in record if tp not in self._assigned]:
                del record[tp]

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: their next owner's progress is what counts now."""
        self.epoch += 1
        for tp in tps:
            self._next.pop(tp, None)
            self._ahead.pop(tp, None)


def _offsets(start: Mapping[TP, int]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]@{o}" for tp, o in sorted(start.items()))


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
    started on first use, in no consumer group (it only fetches)."""

    def __init__(self, *, bootstrap_servers: str, max_message_bytes: int) -> None:
        self._settings = {
            "bootstrap_servers": bootstrap_servers,
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_partition_fetch_bytes": max_message_bytes,
        }
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._stopped = False

    async def _started(self) -> AIOKafkaConsumer:
        if self._stopped:
            raise RuntimeError("the gap reader is stopped")
        if self._consumer is None:
            consumer = AIOKafkaConsumer(**self._settings)
            await consumer.start()
            self._consumer = consumer
        return self._consumer

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
        async with self._lock:
            self._stopped = True
            if self._consumer is not None:
                consumer, self._consumer = self._consumer, None
                await consumer.stop()


class PlaysConsumer(Consumer):
    """Faust's Kafka consumer: `plays` offsets committed from :data:`FOLDED` only, which
    it seeds with the offsets it seeks assigned partitions to."""

    #: Topics whose commits follow :data:`FOLDED` (set by the app).
    folded_topics: frozenset[str] = frozenset()
    #: Longest the broker holds a fetch with nothing new (set by the app; Faust's own
    #: 1,500 ms held `plays` back behind quiet standby partitions: stream_app/fetch_wait.py).
    fetch_max_wait_ms: int = FAUST_FETCH_MAX_WAIT_MS

    def _new_consumer_thread(self) -> FetchWaitThread:
        return FetchWaitThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        # Before Faust's own handlers, which start the recovery that seeks: a seek
        # from here on reads this assignment.
        FOLDED.assigned(tp for tp in assigned if tp.topic in self.folded_topics)
        await super().on_partitions_assigned(assigned, generation_id)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        epoch = FOLDED.epoch
        committed: Mapping[Any, int | None] = await super().seek_to_committed()
        # No committed offset (or 0): the fetch starts at the log's first offset.
        FOLDED.seed({TP(tp.topic, tp.partition): offset or 0 for tp, offset in committed.items()
                     if tp.topic in self.folded_topics}, epoch=epoch)  # fmt: skip
        return committed  # type: ignore[return-value]

    def _filter_tps_with_pending_acks(self, topics: Any = None) -> Iterator[TP]:
        """Faust's partitions with acknowledgements, and every `plays` partition the
        agent has a record of (its progress is committed whether Faust acked or not)."""
        named = set(super()._filter_tps_with_pending_acks(topics))
        yield from named
        for tp in FOLDED.partitions():
            if tp not in named and (topics is None or tp in topics or tp.topic in topics):
                yield tp

    def _filter_committable_offsets(self, tps: Iterable[TP]) -> dict[TP, int]:
        tps = list(tps)
        offsets: dict[TP, int] = super()._filter_committable_offsets(
            [tp for tp in tps if tp.topic not in self.folded_topics]
        )
        for tp in tps:
            if tp.topic not in self.folded_topics:
                continue
            # Faust's own bookkeeping of this partition (acknowledgements, gaps) is not
            # what gets committed, and only its own offset choice would trim it: dropped.
            self._acked[tp].clear()
            self._acked_index[tp].clear()
            self._gap.pop(tp, None)
            done = FOLDED.committable(tp)
            if done is not None and self._should_commit(tp, done):
                offsets[tp] = done
        return offsets
