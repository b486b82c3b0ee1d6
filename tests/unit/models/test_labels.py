"""The label rule of DESIGN.md, edge by edge, through the same PlayProcessor both paths run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.events import PlayEvent
from models.labels import Example, Labeller, LabelState
from models.processor import PlayProcessor
from models.settings import ModelSettings

T0 = datetime(2024, 3, 1, tzinfo=UTC)
HOUR = 3600


def play(track: str, seconds: float, user: str = "ana", ms: int | None = None) -> PlayEvent:
    return PlayEvent(user_id=user, track_id=track, played_at=T0 + timedelta(seconds=seconds), ms_played=ms)


def run(plays: list[PlayEvent], settings: ModelSettings | None = None) -> dict[str, Example]:
    proc = PlayProcessor(settings or ModelSettings(allowed_lateness_s=0))
    out: dict[str, Example] = {}
    for p in plays:
        for ex in proc.process(p).examples:
            assert ex.event_id not in out, "a label is emitted once"
            out[ex.event_id] = ex
    for ex in proc.finish():
        out[ex.event_id] = ex
    return out


HORIZON = 30 * 86_400


def test_replay_exactly_at_the_horizon_is_positive() -> None:
    first = play("a", 0)
    labels = run([first, play("a", HORIZON)])
    assert labels[first.event_id].label is True


def test_replay_just_after_the_horizon_is_negative() -> None:
    first = play("a", 0)
    labels = run([first, play("a", HORIZON + 1)])
    assert labels[first.event_id].label is False


def test_replay_at_the_same_instant_is_not_a_replay() -> None:
    first = play("a", 0)
    labels = run([first, play("a", 0, ms=40_000), play("b", HORIZON + 5)])
    assert labels[first.event_id].label is False


def test_positive_resolves_at_the_replay_negative_when_the_watermark_passes() -> None:
    proc = PlayProcessor(ModelSettings(allowed_lateness_s=HOUR))
    a, b = play("a", 0), play("b", 10)
    assert proc.process(a).examples == []
    assert proc.process(b).examples == []
    replay = proc.process(play("a", 86_400)).examples
    assert [(e.event_id, e.label, e.resolved_at) for e in replay] == [
        (a.event_id, True, play("a", 86_400).ts)
    ]
    # b's horizon closes at 10 + H; the watermark trails the latest event by an hour.
    assert proc.process(play("c", HORIZON + 10 + HOUR)).examples == []
    late_enough = proc.process(play("d", HORIZON + 11 + HOUR)).examples
    assert [(e.event_id, e.label) for e in late_enough] == [(b.event_id, False)]


def test_short_plays_are_not_plays_for_labels() -> None:
    first = play("a", 0)
    short = play("a", 60, ms=29_999)
    labels = run([first, short, play("b", HORIZON + 5)])
    assert labels[first.event_id].label is False
    assert short.event_id not in labels
    just_long_enough = play("a", 120, ms=30_000)
    labels = run([first, just_long_enough])
    assert labels[first.event_id].label is True


def test_duplicates_count_once() -> None:
    first, replay = play("a", 0), play("a", 600)
    proc = PlayProcessor(ModelSettings(allowed_lateness_s=0))
    proc.process(first)
    assert proc.process(first).kind == "duplicate"
    resolved = proc.process(replay).examples
    assert [e.event_id for e in resolved] == [first.event_id]
    assert proc.process(replay).kind == "duplicate"
    features = proc.process(play("a", 900)).named
    assert features is not None and features["pair_plays"] == 2.0
    assert proc.counts["duplicate"] == 2


def test_late_play_updates_features_is_counted_and_revises_no_label() -> None:
    settings = ModelSettings(allowed_lateness_s=HOUR)
    proc = PlayProcessor(settings)
    a = play("a", 0)
    proc.process(a)
    emitted = proc.process(play("z", HORIZON + 2 * HOUR)).examples
    assert [(e.event_id, e.label) for e in emitted] == [(a.event_id, False)]
    # A replay of `a` inside its horizon, arriving after a's negative was emitted.
    late = play("a", 10 * 86_400)
    out = proc.process(late)
    assert out.late and out.kind == "play"
    assert out.examples == []  # the emitted negative stands
    assert proc.counts["late"] == 1 and proc.labeller.n_late == 1
    # The late play never becomes an example itself ...
    for ex in proc.finish(float("inf")):
        assert ex.event_id != late.event_id
    # ... but it does update the features of later plays.
    later = proc.process(play("a", HORIZON + 3 * HOUR)).named
    assert later is not None and later["pair_plays"] == 2.0


def test_late_play_still_resolves_a_pending_positive() -> None:
    proc = PlayProcessor(ModelSettings(allowed_lateness_s=HOUR))
    a = play("a", 5 * 86_400)
    proc.process(a)
    proc.process(play("z", 10 * 86_400))
    late_replay = play("a", 6 * 86_400)  # behind the watermark, inside a's horizon
    out = proc.process(late_replay)
    assert out.late
    assert [(e.event_id, e.label) for e in out.examples] == [(a.event_id, True)]


def test_out_of_order_within_lateness_after_its_replay_is_positive_at_once() -> None:
    proc = PlayProcessor(ModelSettings(allowed_lateness_s=HOUR))
    proc.process(play("a", 1000))
    early = play("a", 400)  # arrives after the play at 1000, but within the lateness
    out = proc.process(early)
    assert not out.late
    assert [(e.event_id, e.label) for e in out.examples] == [(early.event_id, True)]
    assert out.named is not None and out.named["pair_plays"] == 0.0


def test_labels_are_per_listener() -> None:
    a = play("x", 0, user="ana")
    labels = run([a, play("x", 100, user="bo"), play("y", HORIZON + 1, user="bo")])
    assert labels[a.event_id].label is False


def test_label_state_round_trips_and_restores_deadlines() -> None:
    settings = ModelSettings(allowed_lateness_s=0)
    labeller = Labeller(settings)
    first = play("a", 0)
    labeller.observe(first, {"f": 1.0})
    saved = {k: LabelState.from_dict(v.to_dict()) for k, v in labeller.states.items()}
    assert saved == labeller.states
    restored = Labeller(settings, saved)
    resolved = restored.advance(first.ts + HORIZON + 1)
    assert [(e.event_id, e.label, e.features) for e in resolved] == [(first.event_id, False, {"f": 1.0})]
    assert Example.from_dict(resolved[0].to_dict()) == resolved[0]


def test_pending_features_of_the_feature_set_are_stored_as_values_and_checked() -> None:
    import json

    import pytest

    from models.features import FEATURE_NAMES
    from models.labels import freeze, thaw

    x = {name: float(i) for i, name in enumerate(FEATURE_NAMES)}
    state = LabelState("ana")
    state.pending = {"a": [(1.0, "e1", freeze(x))], "b": [(2.0, "e2", freeze({"f": 1.5}))]}
    doc = state.to_dict()
    assert doc["pending"]["a"] == [(1.0, "e1", tuple(x.values()))]  # names not repeated per play
    assert doc["pending"]["b"] == [(2.0, "e2", {"f": 1.5})]  # any other features as they are
    assert LabelState.from_dict(json.loads(json.dumps(doc))) == state
    assert thaw(LabelState.from_dict(doc).pending["a"][0][2]) == x
    with pytest.raises(ValueError, match="another feature set"):
        LabelState.from_dict({**doc, "fs": doc["fs"] ^ 1})
    v1 = {"v": 1, "user_id": "ana", "pending": {"b": [[2.0, "e2", {"f": 1.5}]]}, "latest": {}}
    assert LabelState.from_dict(v1).pending == {"b": [(2.0, "e2", {"f": 1.5})]}


def test_examples_carry_the_feature_set_as_values_and_refuse_another() -> None:
    import json

    import pytest

    from models.features import FEATURE_NAMES

    x = {name: float(i) for i, name in enumerate(FEATURE_NAMES)}
    ex = Example("ana", "a", "e1", 1.0, x, True, 2.0)
    doc = json.loads(json.dumps(ex.to_dict()))
    assert doc["features"] == list(x.values())
    assert Example.from_dict(doc) == ex
    with pytest.raises(ValueError, match="another feature set"):
        Example.from_dict({**doc, "fs": doc["fs"] + 1})
    other = Example("ana", "a", "e2", 1.0, {"f": 1.5}, False, 2.0)
    assert Example.from_dict(json.loads(json.dumps(other.to_dict()))) == other
