"""DelayedLearner: predict at play time, learn only when the horizon has closed."""

from __future__ import annotations

import pandas as pd
import pytest

from models.labels import Example
from models.learner import DelayedLearner, make_model

X_POS = {"pair_plays": 5.0, "pair_since_last_s": 60.0}
X_NEG = {"pair_plays": 0.0, "pair_since_last_s": 3e7}


def example(i: int, ts: float, positive: bool) -> Example:
    x = X_POS if positive else X_NEG
    return Example("ana", "t", f"e{i}", ts, x, positive, ts + 1.0)


def test_an_early_positive_waits_for_its_horizon() -> None:
    learner = DelayedLearner(horizon_s=100.0)
    learner.add([example(0, 0.0, True)])
    assert learner.advance(99.0) == 0 and learner.waiting == 1
    assert learner.advance(100.0) == 0  # strictly past ts + horizon
    assert learner.advance(100.5) == 1 and learner.n_learnt == 1


def test_learns_oldest_play_first_whatever_the_arrival_order() -> None:
    seen: list[float] = []

    class Spy:
        def learn_one(self, x: dict[str, float], y: bool) -> None:
            seen.append(x["ts"])

    learner = DelayedLearner(Spy(), horizon_s=10.0)
    for ts in (5.0, 1.0, 3.0):
        learner.add([Example("a", "t", str(ts), ts, {"ts": ts}, True, ts)])
    learner.advance(100.0)
    assert seen == [1.0, 3.0, 5.0]


@pytest.mark.parametrize("batch_size", [1, 4])
def test_learns_to_separate(batch_size: int) -> None:
    learner = DelayedLearner(make_model(lr=0.05), horizon_s=1.0, batch_size=batch_size)
    for i in range(400):
        learner.add([example(i, float(i), i % 2 == 0)])
        learner.advance(float(i))
    learner.flush()
    assert learner.predict_proba_one(X_POS) > 0.5 > learner.predict_proba_one(X_NEG)
    frame = pd.DataFrame([X_POS, X_NEG], index=["a", "b"])
    proba = learner.predict_proba_many(frame)
    assert list(proba.index) == ["a", "b"] and proba["a"] > proba["b"]
    assert learner.weights()


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ValueError):
        make_model("nope")
