"""Running AUC over a stream of (label, probability) pairs, in constant memory.

Scores are counted in ``bins`` equal-width bins per label; the AUC is the
Mann-Whitney statistic over the bins (ties within a bin count one half), so it is
exact up to the bin width and costs O(bins) to read, O(1) to update.

>>> auc = BinnedAUC()
>>> for y, p in [(True, 0.9), (False, 0.2), (True, 0.7), (False, 0.8)]:
...     auc.update(y, p)
>>> auc.get()
0.75
>>> BinnedAUC().get() is None
True
"""

from __future__ import annotations


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
