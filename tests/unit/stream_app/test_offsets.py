"""The plays agent's record of its progress: batches put in offset order, gaps filled."""

from __future__ import annotations

import asyncio

import pytest
from faust.types import TP

from stream_app.offsets import Delivered, FoldedOffsets, in_offset_order

A, B = TP("plays", 0), TP("plays", 1)


def msgs(tp: TP, *offsets: int) -> list[Delivered]:
    return [Delivered(tp, o, b"%d:%d" % (tp.partition, o)) for o in offsets]


class Log:
    """What Kafka holds: every offset but ``holes``; records each read."""

    def __init__(self, *holes: int) -> None:
        self.holes = set(holes)
        self.reads: list[tuple[int, int, int]] = []

    async def read(self, tp: TP, start: int, end: int) -> list[Delivered]:
        self.reads.append((tp.partition, start, end))
        return msgs(tp, *(o for o in range(start, end) if o not in self.holes))


def order(batch: list[Delivered], folded: FoldedOffsets, log: Log):
    return asyncio.run(in_offset_order(batch, folded, log.read))


def test_a_skipped_offset_is_read_from_kafka_and_folded_in_place() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 1221})
    out = order(msgs(A, 1221, 1222, 1224, 1225), folded, log)
    assert [m.offset for m in out.messages] == [1221, 1222, 1223, 1224, 1225]
    assert out.messages[2].value == b"0:1223"
    assert (out.filled, out.repeated, log.reads) == (1, 0, [(0, 1223, 1224)])


def test_offsets_folded_already_are_dropped_within_and_across_batches() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 10})
    first = order(msgs(A, 10, 11, 12, 12, 11), folded, log)
    assert [m.offset for m in first.messages] == [10, 11, 12] and first.repeated == 2
    folded.folded(first.messages)
    # Faust seeks back and delivers the last offsets again: nothing is folded twice.
    again = order(msgs(A, 11, 12, 13), folded, log)
    assert [m.offset for m in again.messages] == [13] and again.repeated == 2
    assert log.reads == []


def test_a_gap_before_the_first_message_after_assignment_is_filled() -> None:
    """The stream starts at the committed offset; its first message was skipped."""
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 500})
    out = order(msgs(A, 503, 504), folded, log)
    assert [m.offset for m in out.messages] == [500, 501, 502, 503, 504]


def test_offsets_kafka_holds_no_message_for_are_passed_over() -> None:
    """Compaction or transaction markers leave holes in a log: not losses."""
    folded, log = FoldedOffsets(), Log(31, 32)
    folded.seed({A: 30})
    out = order(msgs(A, 30, 34), folded, log)
    assert [m.offset for m in out.messages] == [30, 33, 34] and out.filled == 1


def test_partitions_are_put_in_order_each_on_its_own() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 0, B: 100})
    out = order(msgs(A, 0) + msgs(B, 100) + msgs(A, 2) + msgs(B, 100, 101), folded, log)
    assert [(m.tp.partition, m.offset) for m in out.messages] == [(0, 0), (1, 100), (0, 1), (0, 2), (1, 101)]
    assert log.reads == [(0, 1, 2)]


def test_a_seek_sets_the_record_and_what_comes_again_is_a_repeat_of_nothing_lost() -> None:
    """Faust seeks back to the committed offset mid-assignment: the record follows,
    the stream's next messages match it, and nothing before it is asked for again."""
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 100})
    folded.folded(msgs(A, 100, 101, 102))
    folded.seed({A: 101, B: 7})
    assert folded.partitions() == {A: 101, B: 7}
    out = order(msgs(A, 101, 102, 103), folded, log)
    assert [m.offset for m in out.messages] == [101, 102, 103] and log.reads == []


def test_folded_moves_forward_only_and_is_forgotten_at_revocation() -> None:
    folded = FoldedOffsets()
    folded.seed({A: 7})
    folded.folded(msgs(A, 7, 8))
    folded.folded(msgs(A, 3))  # a late repeat never moves it back
    assert folded.next_offset(A) == 9
    folded.forget([A])
    assert folded.next_offset(A) is None and folded.partitions() == {}


@pytest.mark.parametrize("first", [0, 42])
def test_an_unseeded_partition_trusts_its_first_message(first: int) -> None:
    folded, log = FoldedOffsets(), Log()
    out = order(msgs(A, first, first + 1), folded, log)
    assert [m.offset for m in out.messages] == [first, first + 1] and log.reads == []


def test_a_seek_that_began_before_a_revocation_does_not_seed_after_it() -> None:
    folded = FoldedOffsets()
    epoch = folded.epoch
    folded.forget([A, B])  # a rebalance revoked everything while the seek was under way
    folded.seed({A: 0, B: 0}, epoch=epoch)
    assert folded.partitions() == {}
    folded.seed({A: 240}, epoch=folded.epoch)
    assert folded.partitions() == {A: 240}


def test_a_seek_between_revocation_and_assignment_seeds_nothing_of_the_old_assignment() -> None:
    # The worker held A and B; a rebalance revokes both and assigns only B. A seek that
    # began after the revocation still read the old assignment (A and B, no commits: 0).
    folded = FoldedOffsets()
    folded.assigned([A, B])
    folded.seed({A: 0, B: 0}, epoch=folded.epoch)
    folded.forget([A, B])
    epoch = folded.epoch
    folded.assigned([B])
    folded.seed({A: 0, B: 0}, epoch=epoch)
    assert folded.partitions() == {}
    # The new assignment's own seek seeds B only, even if it names A too.
    folded.seed({A: 0, B: 57}, epoch=folded.epoch)
    assert folded.partitions() == {B: 57}
    # A later takeover of A starts from its committed offset, not a stale 0.
    folded.forget([B])
    folded.assigned([A, B])
    folded.seed({A: 1088, B: 300}, epoch=folded.epoch)
    assert folded.partitions() == {A: 1088, B: 300}


def test_an_assignment_drops_the_record_of_partitions_it_does_not_hold() -> None:
    folded = FoldedOffsets()
    folded.seed({A: 10, B: 20})
    folded.assigned([B])
    assert folded.partitions() == {B: 20}


def test_folded_plays_become_committable_only_once_their_states_are_written() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 10, B: 20})
    folded.folded(order(msgs(A, 10, 11) + msgs(B, 20), folded, log).messages)
    assert (folded.next_offset(A), folded.committable(A), folded.committable(B)) == (12, 10, 20)
    assert folded.unwritten() and folded.partitions() == {A: 10, B: 20}
    folded.written()
    assert (folded.committable(A), folded.committable(B), folded.unwritten()) == (12, 21, False)


def test_dropped_unwritten_plays_are_folded_again_from_kafka() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 10})
    folded.folded(order(msgs(A, 10, 11, 12), folded, log).messages)
    folded.drop_unwritten()  # a rebalance: in-memory states go back to the table's
    assert folded.next_offset(A) == 10
    out = order(msgs(A, 13, 14), folded, log)  # the stream itself has moved on
    assert [m.offset for m in out.messages] == [10, 11, 12, 13, 14] and log.reads == [(0, 10, 13)]


def test_a_revocation_or_a_seek_drops_what_was_not_written() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 10, B: 20})
    folded.folded(order(msgs(A, 10) + msgs(B, 20), folded, log).messages)
    folded.forget([A])
    folded.seed({B: 20})
    assert (folded.next_offset(A), folded.next_offset(B), folded.unwritten()) == (None, 20, False)


def test_a_batch_folded_across_a_rebalance_does_not_count() -> None:
    """The kill -9 CI failure of 2026-12-07: plays 10..11 folded, then a batch of 12..13
    began, a revocation dropped 10..11 while the batch awaited Kafka, and the partition
    came back at its committed offset. Counted, the batch made 10..13 committable at the
    next write, which held only the batch's listeners: 10..11 were lost."""
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 10})
    folded.folded(order(msgs(A, 10, 11), folded, log).messages, epoch=folded.epoch)
    began = folded.epoch
    in_flight = order(msgs(A, 12, 13), folded, log).messages
    folded.drop_unwritten()  # the revocation, then the same partition assigned again
    folded.forget([A])
    folded.assigned([A])
    folded.seed({A: 10}, epoch=folded.epoch)
    assert folded.folded(in_flight, epoch=began) is False
    folded.written()
    assert (folded.committable(A), folded.next_offset(A)) == (10, 10)
    # The next batch folds from the committed offset: the dropped plays come again.
    again = order(msgs(A, 12, 13, 14), folded, log)
    assert [m.offset for m in again.messages] == [10, 11, 12, 13, 14]
    assert folded.folded(again.messages, epoch=folded.epoch) is True


def test_a_batch_within_one_epoch_counts() -> None:
    folded, log = FoldedOffsets(), Log()
    folded.seed({A: 10})
    assert folded.folded(order(msgs(A, 10), folded, log).messages, epoch=folded.epoch) is True
    folded.written()
    assert folded.committable(A) == 11
