"""Agents and timers of the Faust app (imported by :mod:`stream_app.app`).

Every piece of real work lives in plain classes (`Listening`, `Trainer`, `Scorer`,
`LatestModel`); this module only moves bytes between them and Kafka / Redis, one
batch at a time.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from aiokafka.errors import IllegalStateError
from faust.types import TP
from kafka.partitioner.default import murmur2

from models.dead_letter import DeadLetter
from models.events import PlayEvent
from stream_app import worker_state as ws
from stream_app.app import (
    MAX_MESSAGE_BYTES,
    app,
    cluster,
    dlq_topic,
    examples_topic,
    listener_table,
    plays_topic,
    snapshots_topic,
    stream,
)
from stream_app.decode import play_or_reason
from stream_app.examples_wire import ExampleMessage, encode_examples
from stream_app.offsets import FOLDED, Delivered, GapReader, in_offset_order
from stream_app.recs_store import ModelMetrics, ModelSnapshot
from stream_app.take import register, take_batches
from stream_app.trainer import Trainer, snapshot_message
from stream_app.trainer_loop import TRAINER_SEAT, TrainingLoop, trainer_group

log = logging.getLogger("encore.stream")


def _owned_partitions() -> frozenset[int]:
    return frozenset(tp.partition for tp in app.consumer.assignment() if tp.topic == cluster.plays_topic)


def _end_and_next(partition: int) -> tuple[int | None, int | None] | None:
    """(Kafka's end offset as of the last fetch, the next offset to fold) of an owned
    `plays` partition; None when it was revoked since the caller read the assignment."""
    tp = TP(cluster.plays_topic, partition)
    try:
        end = app.consumer.highwater(tp)
    except (AssertionError, AttributeError, IllegalStateError):
        return None
    return end, FOLDED.next_offset(tp)


def _unread_partitions(owned: frozenset[int], progress: dict[int, float]) -> frozenset[int]:
    """Owned `plays` partitions with no play folded yet that may hold plays: Kafka's
    end offset (as of the last fetch) beyond the next offset to fold, or not known yet."""
    unread = set()
    for partition in owned:
        if partition in progress or (offsets := _end_and_next(partition)) is None:
            continue  # revoked: its plays are not ours to wait for
        end, next_offset = offsets
        if end is None or next_offset is None or end > next_offset:
            unread.add(partition)
    return frozenset(unread)


def _plays_behind(owned: frozenset[int]) -> int:
    """Plays in the owned partitions not folded yet, as far as the last fetches know."""
    behind = 0
    for partition in owned:
        offsets = _end_and_next(partition)
        if offsets is not None and offsets[0] is not None and offsets[1] is not None:
            behind += max(0, offsets[0] - offsets[1])
    return behind


def _batch_within() -> float:
    return stream.batch_wait_s(ws.state.stats["plays_behind"])


def _partition_of(user_id: str) -> int:
    return (murmur2(user_id.encode("utf-8")) & 0x7FFFFFFF) % cluster.plays_partitions


def _sync_assignment() -> None:
    """After recovery or a rebalance, rebuild the listeners this worker owns now."""
    owned = _owned_partitions()
    if owned == ws.state.owned:
        return
    _drop_unwritten()  # the table's states are what the plays after them fold into
    keys = [k for k in listener_table if _partition_of(k) in owned]
    n = ws.state.listening.reload(keys, partition_of=_partition_of)
    ws.state.owned = owned
    log.warning("partitions %s: %d listeners loaded from the changelog", sorted(owned), n)
    if stream.gc_freeze_every_s > 0:
        _freeze_survivors()


def _freeze_survivors() -> None:
    """Collect, then move every survivor to the collector's permanent generation.

    Python's collector walks every container object it tracks; with a worker's
    listener states in memory that walk was a third of the batch time
    (docs/scaling.md). The states hold no reference cycles, so frozen they still go
    when their last reference does; cycles made later are collected as usual.
    """
    gc.collect()
    gc.freeze()


#: Reads `plays` offsets the stream skipped straight from Kafka (stream_app/offsets.py).
_gaps = GapReader(bootstrap_servers=cluster.bootstrap_servers, max_message_bytes=MAX_MESSAGE_BYTES)


#: Listeners whose in-memory state is ahead of their table value, and when the table
#: was last written (:func:`_write_unwritten`).
_unwritten: set[str] = set()
_written_at = time.monotonic()
#: A batch is being folded: its states may be ahead of its examples' delivery.
_folding = False


def _write_unwritten() -> None:
    """Write every changed listener's state to the table, once each; what was folded
    becomes committable (stream_app/offsets.py)."""
    global _written_at
    with ws.state.timed("write_back"):
        ws.state.listening.write_back(_unwritten)
    _unwritten.clear()
    FOLDED.written()
    _written_at = time.monotonic()


def _drop_unwritten() -> None:
    """Forget what was folded since the last write; the caller reloads the listeners
    from the table, and those plays are folded again (their examples go to the
    trainer again, which drops them by event id)."""
    _unwritten.clear()
    FOLDED.drop_unwritten()


@app.agent(plays_topic)
async def on_plays(stream_: Any) -> None:
    """Fold batches of plays into the listener table; send examples and dead letters."""
    batches = register(stream_, take_batches(stream_, max_events=stream.batch_size, within=_batch_within))
    async for events in batches:
        await _fold([Delivered(e.message.tp, e.message.offset, e.value) for e in events])
        # How far behind the worker is decides the next batch's wait and the scorer's share.
        ws.state.stats["plays_behind"] = _plays_behind(ws.state.owned)


async def _fold(batch: list[Delivered]) -> None:
    """One batch: in offset order, decoded, folded into the listeners, examples sent;
    then the agent's record of its progress moves, and the states changed since the
    last write go to the table when due (:func:`_write_due`)."""
    global _folding
    _folding = True
    try:
        await _fold_in(batch)
    finally:
        _folding = False
    if _write_due():
        _write_unwritten()
    ws.state.publish_stats()


def _write_due() -> bool:
    """The changed states go to the table every ``table_write_every_s``, or sooner
    once ``table_write_max_listeners`` of them wait (StreamSettings.table_write_due)."""
    return stream.table_write_due(waited_s=time.monotonic() - _written_at, waiting=len(_unwritten))


async def _fold_in(batch: list[Delivered]) -> None:
    state = ws.state
    _sync_assignment()
    epoch = FOLDED.epoch
    ordered = await in_offset_order(batch, FOLDED, _gaps.read)
    state.stats["offsets_filled"] += ordered.filled
    state.stats["offsets_repeated"] += ordered.repeated
    plays: list[PlayEvent] = []
    partitions: list[int] = []
    touched: set[str] = set()
    for m in ordered.messages:
        decoded = play_or_reason(m.value)
        if not isinstance(decoded, str) and _partition_of(decoded.user_id) != m.tp.partition:
            # Keyed unlike its listener (or not keyed): another worker owns this
            # listener's state, and writing it from here would clobber it.
            decoded = (
                f"listener {decoded.user_id[:64]!r} belongs to partition "
                f"{_partition_of(decoded.user_id)}, not {m.tp.partition}: "
                "the message key must be the user_id"
            )
        if isinstance(decoded, str):
            letter = DeadLetter.for_raw(m.value, reason=decoded, origin="worker", location=m.location)
            await dlq_topic.send(value=letter.to_json())
            state.dead_letter()
            continue
        plays.append(decoded)
        partitions.append(m.tp.partition)
    if plays:
        state.listening.unread = _unread_partitions(state.owned, state.listening.partition_progress)
        with state.timed("batch"):
            out = state.listening.process(plays, partitions, write=False)
            state.after_batch(plays, out)
        touched = out.touched
        watermark = state.listening.watermark
        resolved = []
        for example in out.examples:
            p, version = state.predictions.pop(example.event_id, (None, None))
            resolved.append(ExampleMessage(example=example, p=p, model_version=version, watermark=watermark))
        sent = [await examples_topic.send(value=value) for value in encode_examples(resolved)]
        # Examples delivered first, listener state after: a crash in between redelivers
        # the plays, which resolve the same examples again (the trainer drops the
        # duplicates by event id). The other order lost them (tests/faults found it).
        for delivery in sent:
            await delivery
    if not FOLDED.folded(ordered.messages, epoch=epoch):
        # A rebalance came while this batch was folded (it awaits Kafka above): the
        # states go back to the table's at the next batch, which folds these plays again.
        _drop_unwritten()
        state.owned = frozenset()
        return
    _unwritten.update(touched)


async def _publish(trainer: Any, *, resume: bool = False) -> None:
    """The model to Redis and `model-snapshots` (key ``latest``); with ``resume`` (or
    when one is due) the whole learner too (key ``resume``)."""
    resume = ws.resume_due() or resume
    with ws.state.timed("snapshot"):
        snap = trainer.snapshot(ws.state.key, resume=resume)
    signed = ModelSnapshot.of_blob(snap.version, snap.blob)
    whole = ModelSnapshot.of_blob(snap.version, snap.resume_blob) if snap.resume_blob else None
    metrics = ModelMetrics(
        examples_learned=snap.examples_learned,
        rolling_auc=trainer.rolling_auc,
        rolling_logloss=trainer.rolling_logloss,
    )
    with ws.state.timed("publish_model"):
        ws.state.publish_model(signed, metrics, trainer, whole)
    for key, snapshot in ((b"latest", signed), (b"resume", whole)):
        if snapshot is None:
            continue
        message = snapshot_message(snapshot)
        if len(message) > MAX_MESSAGE_BYTES - 4096:
            # Redis holds it (a resuming trainer reads it there); the topic's copy is
            # skipped rather than crash the trainer on the producer's size limit.
            log.error(
                "snapshot %s (%s) is %d bytes, over the %d-byte message limit: kept in Redis only",
                snapshot.version, key.decode(), len(message), MAX_MESSAGE_BYTES,
            )  # fmt: skip
            continue
        await snapshots_topic.send(key=key, value=message)


def _holds_seat(tps: Any) -> bool:
    return any(tp.topic == cluster.plays_topic and tp.partition == TRAINER_SEAT for tp in tps)


_training: TrainingLoop | None = None


def _after_take(trainer: Trainer) -> None:
    stats = ws.state.stats
    ws.state.metrics.examples_learned.set(trainer.learner.n_learnt)
    stats["trainer_examples"] = trainer.examples_seen
    stats["trainer_learnt"] = trainer.learner.n_learnt
    stats["trainer_duplicates"] = trainer.duplicates
    stats["trainer_taken"] = trainer.taken  # by the model's lineage, across workers
    stats["trainer_auc_so_far"] = trainer.auc_so_far.get() or 0.0
    stats["trainer_logloss_so_far"] = trainer.logloss_so_far.get() or 0.0
    if _training is not None:
        stats["trainer_lag"] = _training.lag
    ws.state.publish_stats()


async def _stop_training(*, hand_over: bool) -> None:
    """Stop the trainer's loop, if one runs; with ``hand_over`` publish what it has
    taken since its last resume snapshot, for whoever trains next."""
    global _training
    if _training is None:
        return
    loop, _training = _training, None
    await loop.stop()
    if hand_over and loop.trainer.next_offset > loop.trainer.snapshot_offset:
        await _publish(loop.trainer, resume=True)


@app.on_partitions_revoked.connect
async def hand_over_trainer(_app: Any, revoked: Any, **_: Any) -> None:
    """Before the trainer's seat goes (perhaps to another worker), stop reading and
    publish what the trainer has taken: whoever trains next continues exactly there.
    (A revoked set can miss the seat after an assignment changed under a rebalance:
    the assignment handler then stops a loop whose seat is gone.)"""
    # Faust's last commit of these partitions ran before this signal: from here on,
    # only their next owner's progress moves their offsets. States folded but not
    # written are dropped, not written: a revoked listener's table value may be its
    # next owner's by now. The next batch reloads the listeners from the table.
    if _unwritten or FOLDED.unwritten():
        _drop_unwritten()
        ws.state.owned = frozenset()
    FOLDED.forget(revoked)
    if _holds_seat(revoked):
        await _stop_training(hand_over=True)


@app.on_before_shutdown.connect
async def hand_over_trainer_at_shutdown(_app: Any, **_: Any) -> None:
    """A worker stopping cleanly gets no revocation: hand over here, while it is still
    in the group (nobody else has the seat yet)."""
    await _stop_training(hand_over=True)
    await _gaps.stop()


@app.on_partitions_assigned.connect
async def take_over_trainer(_app: Any, assigned: Any, **_: Any) -> None:
    """Train only while holding the seat (:mod:`stream_app.trainer_loop`); on taking it,
    continue the latest resume snapshot (a crashed trainer's examples after it are read
    again; their duplicates go by the event ids the snapshot carries). One loop at most,
    whatever order the group's callbacks come in."""
    global _training
    if not _holds_seat(assigned):
        if _training is not None:
            # The seat went without a revocation naming it: someone else may train
            # already, so no hand-over snapshot (it could replace a newer one).
            log.warning("the trainer's seat went without a revocation: its loop stops")
            await _stop_training(hand_over=False)
        if ws.current_trainer() is not None:
            log.warning("the trainer moved to another worker")
        ws.drop_trainer()
        ws.state.stats["trains"] = 0
        return
    ws.state.stats["trains"] = 1
    if _training is not None:
        return  # still held: the loop goes on where it is
    _training = TrainingLoop(
        ws.trainer(),
        bootstrap_servers=cluster.bootstrap_servers,
        topic=cluster.examples_topic,
        group_id=trainer_group(stream.app_id),
        max_message_bytes=MAX_MESSAGE_BYTES,
        after_take=_after_take,
        snapshot_due=ws.snapshot_due,
        publish=_publish,
    )
    await _training.start()


@app.timer(interval=min(max(stream.table_write_every_s / 2, 0.1), 1.0))
async def write_listener_states() -> None:
    """States a quiet stream left unwritten go to the table when due (never mid-batch:
    a batch's states follow its examples)."""
    if _write_due() and not _folding and (_unwritten or FOLDED.unwritten()):
        _write_unwritten()


@app.timer(interval=5.0)
async def watch_trainer() -> None:
    """A trainer whose loop died takes the worker down (a supervisor restarts it and
    the seat moves), never leaves it consuming plays with a dead trainer."""
    if _training is not None and (exc := _training.failed) is not None:
        log.error("the trainer's loop failed: %r", exc)
        raise RuntimeError("the trainer's loop failed") from exc


@app.task
async def announce() -> None:
    """Say in Redis that this worker is up (``encore demo`` waits for its workers)."""
    ws.state.publish_stats()


@app.timer(interval=5.0)
async def measure_lag() -> None:
    """Plays waiting in Kafka for this worker: highwater minus position, summed."""
    owned = [tp for tp in app.consumer.assignment() if tp.topic == cluster.plays_topic]
    if not owned:
        return
    lag = 0
    try:
        highwaters = await app.consumer.highwaters(*owned)
        for tp in owned:
            position = await app.consumer.position(tp)
            if position is not None:
                lag += max(highwaters.get(tp, position) - position, 0)
    except IllegalStateError:
        # A rebalance took a partition between assignment() and position(): measure
        # next time. Raised from a timer, it crashed the whole worker (tests/faults).
        return
    ws.state.metrics.consumer_lag.set(lag)
    ws.state.stats["consumer_lag"] = lag


@app.timer(interval=stream.model_refresh_s)
async def refresh_model() -> None:
    """Pick up a newer signed snapshot for play-time predictions and scoring."""
    with ws.state.timed("model_refresh"):
        ws.state.refresh_model()


if stream.gc_freeze_every_s > 0:

    @app.timer(interval=stream.gc_freeze_every_s)
    async def freeze_long_lived() -> None:
        """State built since the last freeze joins the frozen part."""
        with ws.state.timed("gc_freeze"):
            _freeze_survivors()
        ws.state.stats["gc_frozen"] = gc.get_freeze_count()


@app.timer(interval=stream.score_every_s)
async def score_due_listeners() -> None:
    """Rewrite the recommendations of listeners whose debounce has passed."""
    with ws.state.timed("scoring"):
        ws.state.score_due(time.monotonic())
