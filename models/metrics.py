"""Running metrics over a stream of (label, probability) pairs, in constant memory.

:class:`BinnedAUC` counts scores in ``bins`` equal-width bins per label; the AUC is
the Mann-Whitney statistic over the bins (ties within a bin count one half), so it is
exact up to the bin width and costs O(bins) to read, O(1) to update.
:class:`MeanLogLoss` is the mean log loss, of everything or of the last ``window``.
Both take one pair (``update``) or a batch (``update_many``, what the trainer does).

>>> auc = BinnedAUC()
>>> for y, p in [(True, 0.9), (False, 0.2), (True, 0.7), (False, 0.8)]:
...     auc.update(y, p)
>>> auc.get()
0.75
>>> BinnedAUC().get() is None
True
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

#: Probabilities are clipped to [EPS, 1 - EPS] before a log loss is taken.
EPS = 1e-15


class BinnedAUC:
    """Cumulative ROC AUC of probabilities, binned."""

    def __init__(self, bins: int = 1000) -> None:
        self.bins = bins
        self.pos = [0] * bins
        self.neg = [0] * bins

    def update(self, label: bool, p: float) -> None:
        i = min(max(int(p * self.bins), 0), self.bins - 1)
        if label:
            self.pos[i] += 1
        else:
            self.neg[i] += 1

    def update_many(self, labels: Sequence[bool], probs: Sequence[float]) -> None:
        """:meth:`update` for each pair, in one pass."""
        y = np.asarray(labels, dtype=bool)
        i = np.clip((np.asarray(probs, dtype=float) * self.bins).astype(int), 0, self.bins - 1)
        for counts, where in ((self.pos, y), (self.neg, ~y)):
            for b, n in zip(*np.unique(i[where], return_counts=True), strict=True):
                counts[b] += int(n)

    def get(self) -> float | None:
        """AUC so far; ``None`` until both labels have been seen."""
        n_pos, n_neg = sum(self.pos), sum(self.neg)
        if not n_pos or not n_neg:
            return None
        below = 0  # negatives in lower bins
        wins = 0.0
        for pos, neg in zip(self.pos, self.neg, strict=True):
            wins += pos * (below + 0.5 * neg)
            below += neg
        return wins / (n_pos * n_neg)


class MeanLogLoss:
    """Mean log loss of every pair so far, or (``window``) of the last ``window``.

    >>> loss = MeanLogLoss(window=2)
    >>> loss.update_many([True, False, True], [0.5, 0.5, 0.9])
    >>> round(loss.get(), 4) == round((math.log(2) - math.log(0.9)) / 2, 4)
    True
    >>> MeanLogLoss().get() is None
    True
    """

    def __init__(self, window: int | None = None) -> None:
        self.window = window
        self._last: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self._n = 0

    def update(self, label: bool, p: float) -> None:
        self.update_many([label], [p])

    def update_many(self, labels: Sequence[bool], probs: Sequence[float]) -> None:
        p = np.clip(np.asarray(probs, dtype=float), EPS, 1 - EPS)
        losses = -np.log(np.where(np.asarray(labels, dtype=bool), p, 1 - p))
        if self.window is None:
            self._sum += float(losses.sum())
            self._n += len(losses)
        else:
            self._last.extend(losses.tolist())

    def get(self) -> float | None:
        """The mean; ``None`` before any pair."""
        if self.window is None:
            return self._sum / self._n if self._n else None
        return math.fsum(self._last) / len(self._last) if self._last else None
