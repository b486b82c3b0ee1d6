"""Same code offline and online (DESIGN.md): one event sequence, two paths, equal results.

The sequence is a slice of the bundled Last.fm file. Offline it goes through
``encore evaluate``'s path (:class:`~models.processor.PlayProcessor` over the plays in
event-time order, then ``finish()``); online it goes through real Kafka (8 partitions)
and two Faust workers, and the stream's examples are read back from the run's
`examples` topic.

The stream's watermark is the slowest partition's latest event time minus the allowed
lateness, so at the end of a finite replay its newest plays stay unlabelled while
``finish()`` labels them offline. Hence: every stream example must equal the offline
example of the same play (features exactly, label); and the stream must have emitted
every offline positive (a replay resolves it wherever it arrives) and every offline
negative whose horizon closed before that slowest partition's watermark.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from models.evaluation import evaluate
from models.labels import Example
from models.settings import ModelSettings
from tests.e2e.stream_run import OfflineRun, StreamRun, iso, partition_of

pytestmark = pytest.mark.e2e

SETTINGS = ModelSettings()
HORIZON_S = SETTINGS.horizon_days * 86_400.0
LATENESS_S = float(SETTINGS.allowed_lateness_s)


def stream_examples(run: StreamRun) -> dict[str, Example]:
    """The stream's examples by event id; a play delivered twice must carry the same example."""
    by_id: dict[str, Example] = {}
    for message in run.examples:
        ex = message.example
        seen = by_id.setdefault(ex.event_id, ex)
        assert seen == ex, f"the stream emitted two different examples for play {ex.event_id}"
    return by_id


def watermark_bounds(run: StreamRun) -> tuple[float, float]:
    """(lowest, highest) final watermark any worker can have: per `plays` partition the
    latest event time it carries, minus the lateness; min and max over the partitions."""
    latest: dict[int, float] = defaultdict(lambda: float("-inf"))
    for play in run.slice.plays:
        p = partition_of(play.user_id, run.settings.plays_partitions)
        latest[p] = max(latest[p], play.ts)
    return min(latest.values()) - LATENESS_S, max(latest.values()) - LATENESS_S


def test_every_stream_example_has_the_offline_features_and_label(
    stream_run: StreamRun, offline: OfflineRun
) -> None:
    stream = stream_examples(stream_run)
    labels = Counter(ex.label for ex in stream.values())
    # Not vacuous: thousands of examples of both labels came out of the stream.
    assert labels[True] > 1000 and labels[False] > 1000, labels

    unknown, different = [], []
    for event_id, ex in stream.items():
        twin = offline.examples.get(event_id)
        if twin is None:
            unknown.append(ex)
            continue
        same = (
            (ex.user_id, ex.track_id, ex.ts) == (twin.user_id, twin.track_id, twin.ts)
            and ex.features == twin.features  # exact: same floats, same keys
            and ex.label == twin.label
            # A positive resolves at its replay, an event time both paths share.
            and (not ex.label or ex.resolved_at == twin.resolved_at)
        )
        if not same:
            diff = {k: (twin.features.get(k), v) for k, v in ex.features.items() if twin.features.get(k) != v}
            different.append((event_id, (twin.label, ex.label), diff))
    assert not unknown, (
        f"{len(unknown)} stream examples of plays the offline path never labelled: {unknown[:3]}"
    )
    assert not different, (
        f"{len(different)} of {len(stream)} stream examples differ from offline "
        f"(event id, (offline label, stream label), {{feature: (offline, stream)}}): {different[:3]}"
    )


def test_the_stream_labelled_every_play_whose_label_it_could_know(
    stream_run: StreamRun, offline: OfflineRun
) -> None:
    stream = stream_examples(stream_run)
    low, high = watermark_bounds(stream_run)
    # The bound is real: some offline negatives lie beyond it (labelled only by finish()).
    assert any(not ex.label and ex.ts + HORIZON_S >= low for ex in offline.examples.values())

    due = {
        event_id
        for event_id, ex in offline.examples.items()
        if ex.label or ex.ts + HORIZON_S < low  # strictly: a negative resolves once the watermark is past
    }
    missing = sorted(due - stream.keys())
    assert not missing, (
        f"{len(missing)} of {len(due)} examples the stream should have emitted are missing "
        f"(slowest partition's watermark {iso(low)}), e.g. "
        f"{[offline.examples[m] for m in missing[:3]]}; worker counters: {stream_run.drained.raw}"
    )
    # And no negative was emitted before any worker's watermark could have passed its horizon.
    early = [ex for ex in stream.values() if not ex.label and not ex.ts + HORIZON_S < high]
    assert not early, f"negatives resolved before their horizon closed: {early[:3]}"


def test_stream_counted_the_plays_the_offline_path_counted(
    stream_run: StreamRun, offline: OfflineRun
) -> None:
    """Same de-duplication and the same (absent) lateness on both paths."""
    workers = stream_run.drained.raw.values()

    def stream_count(kind: str) -> int:
        return int(sum(w.get(kind, 0) for w in workers))

    for kind in ("play", "duplicate", "short", "stale", "late"):
        assert stream_count(kind) == offline.counts.get(kind, 0), (kind, stream_count(kind), offline.counts)
    assert stream_count("play") > 0


def test_the_offline_reference_is_what_encore_evaluate_computes(
    stream_run: StreamRun, offline: OfflineRun
) -> None:
    """The reference above is ``evaluate``'s own path: its label figures agree exactly."""
    result = evaluate(stream_run.slice.plays, baselines=False)
    labelled = [ex for ex in offline.examples.values() if ex.ts + HORIZON_S <= offline.end]
    assert result.plays == len(stream_run.slice.plays)
    assert result.labelled == len(labelled) > 0
    assert result.positive_rate == pytest.approx(sum(ex.label for ex in labelled) / len(labelled), abs=1e-12)
    assert result.counts == {k: offline.counts.get(k, 0) for k in ("duplicate", "short", "stale", "late")}
