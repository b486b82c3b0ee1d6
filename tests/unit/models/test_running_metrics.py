"""Running metrics: batch updates equal one-at-a-time updates and the plain formulas."""

from __future__ import annotations

import math
import random

from models.metrics import BinnedAUC, MeanLogLoss


def pairs(n: int) -> tuple[list[bool], list[float]]:
    rng = random.Random(3)
    labels = [rng.random() < 0.6 for _ in range(n)]
    return labels, [min(max(rng.gauss(0.65 if y else 0.4, 0.2), 0.0), 1.0) for y in labels]


def test_binned_auc_in_batches_equals_one_at_a_time() -> None:
    labels, probs = pairs(5000)
    one, many = BinnedAUC(), BinnedAUC()
    for y, p in zip(labels, probs, strict=True):
        one.update(y, p)
    for i in range(0, 5000, 700):
        many.update_many(labels[i : i + 700], probs[i : i + 700])
    assert (many.pos, many.neg) == (one.pos, one.neg)
    assert 0.7 < (many.get() or 0) < 0.9


def test_mean_log_loss_so_far_and_over_a_window() -> None:
    labels, probs = pairs(3000)
    clipped = [min(max(p, 1e-15), 1 - 1e-15) for p in probs]
    losses = [-math.log(p if y else 1 - p) for y, p in zip(labels, clipped, strict=True)]
    so_far, last = MeanLogLoss(), MeanLogLoss(window=1000)
    for i in range(0, 3000, 256):
        so_far.update_many(labels[i : i + 256], probs[i : i + 256])
        last.update_many(labels[i : i + 256], probs[i : i + 256])
    assert math.isclose(so_far.get() or 0, sum(losses) / 3000, rel_tol=1e-12)
    assert math.isclose(last.get() or 0, sum(losses[-1000:]) / 1000, rel_tol=1e-12)
