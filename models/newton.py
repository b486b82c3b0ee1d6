"""Online logistic regression by recursive Newton steps (a Laplace / extended-Kalman update).

The model keeps the weights ``w`` (on :func:`models.prepare.prepare`'d features plus
an intercept) and ``A``, the summed Hessian of the log loss of everything learnt so
far (plus a ridge prior ``l2 * I``). Each mini-batch of closed examples adds its own
Hessian at the current weights and takes one Newton step on its gradient:

    A <- forget**n * A + sum_i p_i (1 - p_i) z_i z_i^T,     w <- w - A^-1 sum_i (p_i - y_i) z_i

With ``forget = 1`` that is the classic quadratic approximation of the batch log-loss
minimiser (it tracks what a logistic regression re-fitted on every example so far
would give, at the cost of one 24x24 solve per batch); ``forget < 1`` discounts old
examples with a memory of about ``1 / (1 - forget)`` examples, so the model keeps
following a drifting stream. No step size to tune, and scale-free (Newton steps do not
care how features are scaled), so there is no scaler either. The whole state is one
matrix and one vector: tiny snapshots.

>>> model = NewtonLogReg()
>>> model.predict_proba_one({"pair_plays": 2.0})
{False: 0.5, True: 0.5}
>>> frame = pd.DataFrame({"pair_plays": [0.0, 5.0] * 50})
>>> for _ in range(5):
...     model.learn_many(frame, pd.Series([False, True] * 50))
>>> model.predict_proba_one({"pair_plays": 5.0})[True] > 0.9
True
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.features import FEATURE_NAMES
from models.prepare import LOG_FEATURES

#: Default memory of :class:`NewtonLogReg`, in examples (``forget = 1 - 1 / MEMORY``).
MEMORY = 1_000_000


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


class NewtonLogReg:
    """Logistic regression learnt by one Newton step per mini-batch (see module doc).

    Parameters
    ----------
    l2
        Ridge prior on the weights (the starting ``A``); negligible after a few
        hundred examples.
    memory
        Examples after which an old example's weight in ``A`` has decayed by ``1/e``
        (``0`` or less: never forget).
    """

    def __init__(self, l2: float = 1.0, memory: float = MEMORY) -> None:

        self.l2 = l2
        self.memory = memory
        self.columns: list[str] = list(FEATURE_NAMES)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._log = np.array([i for i, c in enumerate(self.columns) if c in LOG_FEATURES], dtype=int)
        self._log_names = frozenset(self.columns[i] for i in self._log)
        d = len(self.columns) + 1  # + intercept (last)
        self.A = l2 * np.eye(d)
        self.w = np.zeros(d)
        self.n_learnt = 0
        self._sum = np.zeros(d)
        self._sum_sq = np.zeros(d)

    # -- input -----------------------------------------------------------------------
    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Prepared features of a frame plus a column of ones, in :attr:`columns` order."""
        if list(frame.columns) != self.columns:
            frame = frame.reindex(columns=self.columns, fill_value=0.0)
        n, d = frame.shape
        z = np.empty((n, d + 1))
        z[:, :d] = frame.to_numpy(dtype=float)
        z[:, self._log] = np.log1p(z[:, self._log])
        z[:, d] = 1.0
        return z

    # -- learning --------------------------------------------------------------------
    def _learn(self, z: np.ndarray, y: np.ndarray) -> None:
        p = _sigmoid(z @ self.w)
        if self.memory > 0:
            self.A *= math.exp(-len(y) / self.memory)
        self.A += (z * (p * (1.0 - p))[:, None]).T @ z
        self.w -= np.linalg.solve(self.A, z.T @ (p - y))
        self._sum += z.sum(axis=0)
        self._sum_sq += (z * z).sum(axis=0)
        self.n_learnt += len(y)

    def learn_many(self, X: pd.DataFrame, y: pd.Series) -> None:
        """One Newton step on a mini-batch."""
        if len(X):
            self._learn(self._matrix(X), np.asarray(y, dtype=float))

    def learn_one(self, x: dict[str, float], y: bool) -> None:
        """One Newton step on one example (same update, batch of one)."""
        self.learn_many(pd.DataFrame([x]), pd.Series([y]))

    # -- prediction ------------------------------------------------------------------
    def decision_many(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of a replay for each row."""
        return np.asarray(self._matrix(X) @ self.w)

    def predict_proba_many(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns ``False`` and ``True``, like a River classifier."""
        p = _sigmoid(self.decision_many(X))
        return pd.DataFrame({False: 1.0 - p, True: p}, index=X.index)

    def predict_proba_one(self, x: dict[str, float]) -> dict[bool, float]:
        """``{False: 1 - p, True: p}`` for one feature dict."""
        w, index, logs = self.w, self._index, self._log_names
        z = float(w[-1])
        for k, v in x.items():
            i = index.get(k)
            if i is not None:
                z += w[i] * (math.log1p(v) if k in logs else v)
        p = 1.0 / (1.0 + math.exp(-min(max(z, -500.0), 500.0)))
        return {False: 1.0 - p, True: p}

    @property
    def weights(self) -> dict[str, float]:
        """Weight per feature times the feature's standard deviation (prepared, over
        every example learnt): comparable across features, like weights on scaled
        features."""
        d = len(self.columns)
        n = max(self.n_learnt, 1)
        mean = self._sum[:d] / n
        std = np.sqrt(np.clip(self._sum_sq[:d] / n - mean * mean, 0.0, None))
        return dict(zip(self.columns, (self.w[:d] * std).tolist(), strict=True))
