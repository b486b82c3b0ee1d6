"""The online model (recursive Newton logistic regression), and a learner that waits
for each horizon.

Delayed feedback: a positive label resolves at the replay, a negative only when the
horizon has passed, so a model that learns each example as soon as its label resolves
sees recent plays as mostly positive. :class:`DelayedLearner` predicts at play time
and learns every example only once its horizon has closed in event time (watermark
past ``ts + horizon``), whatever its label; early positives wait in a buffer.

Why this model (``encore evaluate`` on the bundled Last.fm file, test-window AUC,
plays/s of the whole feature + label + predict + learn path on one core; the feature
+ label path alone runs at ~31k plays/s):

====================================================  ======  =========
online model (learns at horizon close)                AUC     plays/s
====================================================  ======  =========
recursive Newton logistic regression, batches of 256  0.8424  22-26k     <- chosen
  (:mod:`models.newton`; batches of 64 / 128 / 512)   0.8424 / 0.8424 / 0.8423
  (memory 250k examples / never forget)               0.8423 / 0.8424
AdaGrad logistic regression, mini-batches of 256      0.8375  22-25k
AdaGrad logistic regression, one example at a time    0.8370  15k
SGD logistic regression (lr 0.001 / 0.005 / 0.01)     0.8357 / 0.8295 / 0.8245
Adam / FTRL-Proximal / online Newton, batches of 256  0.8356 / 0.8367 / 0.8175
+ one-hot listener id (+ track id)                    +0.001  2.5x slower
learn a fake negative at play time, positive later    0.824   (worse)
Hoeffding adaptive tree                               0.7802  6.0k
adaptive random forest (5 trees)                      0.7807  1.9k
logreg re-fitted (Newton) on the last 60k / 100k      0.8425 / 0.8424  14-17k
  closed examples every 2048
recursive Newton blended (logit 0.6/0.4) with a       0.8433  ~20k
  LightGBM (40 trees) re-fitted every 16k closed
  examples on the last 60k (every 32k: 0.8427, 21k)
====================================================  ======  =========

Same features, same run: scikit-learn logistic regression 0.8425, LightGBM 0.8341,
best heuristic (pair plays in 30 days) 0.8153. The recursive Newton update tracks
the logistic regression that a re-fit on every closed example would give, so it
closes the gap to the batch logistic regression (0.8424 vs 0.8425) with no step size
to tune, no scaler and a state of one 24x24 matrix. The LightGBM blend is the only
variant measured above the batch baseline, by under 0.001, at the edge of the 20k
plays/s target and with a window of examples (~5 MB) in every snapshot, so it is
not used. Offline, richer models do not help either: on the batch split, splines,
bins and degree-2 terms give 0.839-0.843, a tuned LightGBM 0.842 and a
logistic regression + LightGBM blend 0.8438 -- the features cap the test AUC near
0.844, short of 0.85. Replaying past examples (experience replay, 7 extra
mini-batches per batch) brought AdaGrad to 0.840 at a sixth of the speed.

>>> from models.labels import Example
>>> learner = DelayedLearner(horizon_s=10.0)
>>> x = {"pair_plays": 3.0, "pair_since_last_s": 60.0}
>>> learner.predict_proba_one(x)
0.5
>>> learner.add([Example("ana", "a", "e1", 0.0, x, True, 5.0)])
>>> learner.advance(8.0)  # horizon of the play at 0 not closed yet: nothing learnt
0
>>> learner.advance(10.5)
1
>>> learner.predict_proba_one(x) > 0.5
True
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterable
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from river import compose, linear_model, optim, preprocessing

from models.features import FEATURE_NAMES, Features
from models.labels import Example, Frozen, freeze, thaw
from models.prepare import Prepare, features_frame

#: Closed examples learnt per ``learn_many`` step by :func:`make_learner` (the
#: AdaGrad model's learning rates are tuned for it; the Newton model takes one
#: Newton step per batch, and 128-512 measure the same AUC).
LEARN_BATCH = 256


def make_model(kind: str = "newton", **params: Any) -> Any:
    """A fresh online model.

    kind
        ``newton`` (default, chosen by measured AUC and speed): logistic regression
        learnt by one recursive Newton step per mini-batch,
        :class:`models.newton.NewtonLogReg` (``l2``, ``memory``; it takes raw features
        and prepares them itself; other params are ignored);
        ``logreg``: ``Prepare | StandardScaler |`` AdaGrad logistic
        regression, ``lr`` 0.05 and ``intercept_lr`` 1.0, tuned for mini-batches of
        :data:`LEARN_BATCH` (``learn_many`` takes one mean-gradient step per batch);
        ``logreg-sgd``: plain SGD (``lr``, default 0.001, for one example at a time);
        ``hat``: Hoeffding adaptive tree; ``arf``: adaptive random forest
        (``n_models``, default 5). The trees take raw prepared features.

    >>> model = make_model()
    >>> model.predict_proba_one({"pair_plays": 2.0})
    {False: 0.5, True: 0.5}
    """
    if kind == "newton":
        from models.newton import MEMORY, NewtonLogReg

        return NewtonLogReg(l2=float(params.get("l2", 1.0)), memory=float(params.get("memory", MEMORY)))
    steps: list[Any] = [Prepare()]
    if kind == "logreg":
        steps += [
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(
                optimizer=optim.AdaGrad(float(params.get("lr", 0.05))),
                intercept_lr=float(params.get("intercept_lr", 1.0)),
                l2=float(params.get("l2", 0.0)),
            ),
        ]
    elif kind == "logreg-sgd":
        steps += [
            preprocessing.StandardScaler(),
            linear_model.LogisticRegression(
                optimizer=optim.SGD(float(params.get("lr", 0.001))),
                intercept_lr=float(params.get("intercept_lr", 0.01)),
            ),
        ]
    elif kind == "hat":
        from river import tree

        steps.append(tree.HoeffdingAdaptiveTreeClassifier(grace_period=200, seed=42))
    elif kind == "arf":
        from river import forest

        steps.append(forest.ARFClassifier(n_models=int(params.get("n_models", 5)), seed=42))
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    pipeline = steps[0]
    for s in steps[1:]:
        pipeline = pipeline | s
    return pipeline


def make_learner(horizon_s: float = 30 * 86_400.0, kind: str = "newton") -> DelayedLearner:
    """The online learner ``encore evaluate`` measures and the trainer should run.

    >>> make_learner().batch_size
    256
    """
    batch = LEARN_BATCH if kind in ("newton", "logreg") else 1
    return DelayedLearner(make_model(kind), horizon_s=horizon_s, batch_size=batch)


class DelayedLearner:
    """Predict at play time; learn each example when its horizon closes in event time.

    The trainer of the stream app feeds it resolved examples (:meth:`add`) and the
    watermark (:meth:`advance`); the evaluator does the same over a file.

    Parameters
    ----------
    model
        A River classifier or pipeline (default :func:`make_model`).
    horizon_s
        The label horizon in seconds.
    """

    def __init__(self, model: Any = None, *, horizon_s: float = 30 * 86_400.0, batch_size: int = 1) -> None:
        self.model = make_model() if model is None else model
        self.horizon_s = horizon_s
        #: Learn in mini-batches of this many closed examples (``learn_many``); 1 means
        #: ``learn_one`` per example.
        self.batch_size = batch_size
        self.watermark = -math.inf
        #: Examples learnt so far.
        self.n_learnt = 0
        #: Heap of examples waiting for their horizon: (deadline, seq, values, label).
        #: Only what learning needs is kept, the features as one float array (as
        #: :func:`~models.labels.freeze` orders them): ~0.45 KB an example, where the
        #: Example with its features dict was ~2.3 KB, and a trainer holds a horizon's
        #: worth of them.
        self._buffer: list[Waiting] = []
        self._closed: list[tuple[Values, bool]] = []
        self._closed_frame: pd.DataFrame | None = None
        self._seq = 0

    # -- snapshots -------------------------------------------------------------------
    # The examples waiting for their horizon are most of a snapshot. They are pickled
    # as columns, features as one float array, and unpacked only when the learner is
    # used for learning again: the workers that load every snapshot to predict never
    # build them.

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        packed = state.pop("_packed", None)
        buffer = state.pop("_buffer", None)
        state["_packed"] = packed if buffer is None else _pack(buffer)
        state["_closed_frame"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_packed", None)
        self.__dict__.setdefault("_closed_frame", None)
        self._closed = [_waiting_values(c) for c in self.__dict__.get("_closed", [])]

    def for_prediction(self) -> DelayedLearner:
        """A twin sharing this model, without the examples waiting for their horizon:
        what a worker needs to predict (a snapshot of kilobytes, not megabytes).

        >>> from models.labels import Example
        >>> learner = DelayedLearner(horizon_s=10.0)
        >>> learner.add([Example("ana", "a", "e1", 0.0, {"pair_plays": 1.0}, True, 1.0)])
        >>> learner.for_prediction().waiting, learner.waiting
        (0, 1)
        """
        twin = DelayedLearner.__new__(DelayedLearner)
        skip = {"_buffer", "_packed", "_closed", "_closed_frame", "resume_point"}
        twin.__dict__.update({k: v for k, v in self.__dict__.items() if k not in skip})
        twin._buffer = []
        twin._closed = []
        twin._closed_frame = None
        return twin

    @property
    def _buffer(self) -> list[Waiting]:
        buffer = self.__dict__.get("_buffer")
        if buffer is None:
            buffer = self.__dict__["_buffer"] = _unpack(self.__dict__.pop("_packed", None))
        return buffer

    @_buffer.setter
    def _buffer(self, value: list[Waiting]) -> None:
        self.__dict__["_buffer"] = value
        self.__dict__.pop("_packed", None)

    def predict_proba_one(self, x: Features) -> float:
        """P(replay within the horizon) for one play's features."""
        if not self.n_learnt:
            return 0.5
        return float(self.model.predict_proba_one(x).get(True, 0.0))

    def predict_proba_many(self, frame: pd.DataFrame) -> pd.Series:
        """P(replay) for each row of a DataFrame of features (the scorer's batch)."""
        if not self.n_learnt or frame.empty:
            return pd.Series(0.5, index=frame.index, dtype=float)
        if hasattr(self.model, "predict_proba_many"):
            proba = self.model.predict_proba_many(frame)
            return proba[True].astype(float) if True in proba.columns else proba.iloc[:, -1]
        rows = frame.to_dict(orient="records")
        return pd.Series([self.predict_proba_one(r) for r in rows], index=frame.index)

    def add(self, examples: Iterable[Example]) -> None:
        """Take resolved examples; each is learnt once the watermark passes its horizon."""
        buf, push = self._buffer, heapq.heappush
        for ex in examples:
            self._seq += 1
            push(buf, (ex.ts + self.horizon_s, self._seq, _values_of(ex.values), bool(ex.label)))

    def advance(self, watermark: float) -> int:
        """Move the watermark; learn the buffered examples whose horizon closed.

        With ``batch_size > 1`` closed examples are learnt once a full batch has
        closed. Returns the number of examples learnt now, oldest play first.
        """
        if self.close(watermark):
            return self.flush()
        return 0

    def close(self, watermark: float) -> bool:
        """Move the watermark and set aside the examples whose horizon closed, without
        learning them; ``True`` when a (mini-)batch is ready for :meth:`flush`.

        Lets a caller predict everything pending with the current model first
        (:meth:`closed_batch`).
        """
        if watermark > self.watermark:
            self.watermark = watermark
        buf = self._buffer
        closed = self._closed
        n = len(closed)
        while buf and buf[0][0] < self.watermark:
            _, _, values, label = heapq.heappop(buf)
            closed.append((values, label))
        if len(closed) != n:
            self._closed_frame = None
        return len(closed) >= max(1, self.batch_size)

    def closed_batch(self) -> tuple[pd.DataFrame, list[bool]]:
        """The examples set aside by :meth:`close` as a feature frame and their labels
        (the frame is built once, for the caller's predictions and :meth:`flush`).

        >>> from models.labels import Example
        >>> learner = DelayedLearner(horizon_s=10.0)
        >>> learner.add([Example("ana", "a", "e1", 0.0, {"pair_plays": 2.0}, True, 1.0)])
        >>> learner.close(10.5)
        True
        >>> frame, labels = learner.closed_batch()
        >>> frame["pair_plays"].tolist(), labels
        ([2.0], [True])
        """
        if self._closed_frame is None:
            self._closed_frame = _frame([values for values, _ in self._closed])
        return self._closed_frame, [label for _, label in self._closed]

    def flush(self) -> int:
        """Learn every closed example set aside now (a partial batch too)."""
        if not self._closed:
            return 0
        if self.batch_size <= 1:
            learn = self.model.learn_one
            for values, label in self._closed:
                learn(thaw(values), label)
        else:
            frame, labels = self.closed_batch()
            self.model.learn_many(frame, pd.Series(labels, index=frame.index))
        n = len(self._closed)
        self._closed, self._closed_frame = [], None
        self.n_learnt += n
        return n

    @property
    def waiting(self) -> int:
        """Resolved examples waiting for their horizon to close."""
        return len(self._buffer)

    def weights(self) -> dict[str, float]:
        """Weights of a linear final step (on scaled, prepared features), else ``{}``."""
        last = self.model
        if isinstance(last, compose.Pipeline):
            last = list(last.steps.values())[-1]
        w = getattr(last, "weights", None)
        return {str(k): float(v) for k, v in w.items()} if w is not None else {}


#: An example's features as the learner keeps them: the values of FEATURE_NAMES as a
#: float array, or (other names) the dict itself.
Values: TypeAlias = "array[float] | dict[str, float]"
#: An example waiting for its horizon: (deadline, seq, values, label).
Waiting: TypeAlias = "tuple[float, int, Values, bool]"


def _values(features: Features) -> Values:
    return _values_of(freeze(features))


def _values_of(frozen: Frozen) -> Values:
    return array("d", frozen) if isinstance(frozen, tuple) else frozen


def _waiting_values(closed: Any) -> tuple[Values, bool]:
    """A closed example of this version, or an Example of an older snapshot."""
    if isinstance(closed, Example):
        return _values(closed.features), bool(closed.label)
    return closed


def _frame(rows: list[Values]) -> pd.DataFrame:
    """Feature rows as a DataFrame (columns FEATURE_NAMES when every row is an array)."""
    flat = _flat(rows) if rows else None
    if flat is not None:
        values = np.frombuffer(flat, dtype=float).reshape(len(rows), len(FEATURE_NAMES))
        return pd.DataFrame(values, columns=list(FEATURE_NAMES))
    return features_frame([thaw(r) for r in rows])


def _flat(rows: Iterable[Values]) -> array[float] | None:
    """The rows one after the other as one float array; ``None`` if any is a dict."""
    flat: array[float] = array("d")
    for r in rows:
        if not isinstance(r, array):
            return None
        flat.extend(r)
    return flat


def _pack(buffer: list[Waiting]) -> dict[str, Any]:
    """The heap of waiting examples as columns (heap order kept)."""
    flat = _flat(v for _, _, v, _ in buffer)
    same = flat is not None
    return {
        "deadline": array("d", [d for d, _, _, _ in buffer]),
        "seq": array("q", [s for _, s, _, _ in buffer]),
        "label": bytes(y for _, _, _, y in buffer),
        "names": FEATURE_NAMES if same else None,
        "features": flat if same else [thaw(v) for _, _, v, _ in buffer],
    }


def _unpack(packed: dict[str, Any] | None) -> list[Waiting]:
    """:func:`_pack`'s columns back into the heap (snapshots of the Example-per-entry
    layout, with ids and times, too)."""
    if packed is None:
        return []
    names = packed["names"]
    n = len(packed["seq"])
    values: list[Values]
    if names is not None:
        width, flat = len(names), packed["features"]
        rows = (flat[i * width : (i + 1) * width] for i in range(n))
        if tuple(names) == FEATURE_NAMES:
            values = [array("d", r) for r in rows]
        else:
            values = [_values(dict(zip(names, r, strict=True))) for r in rows]
    else:
        values = [_values(x) for x in packed["features"]]
    labels = [bool(y) for y in packed["label"]]
    return list(zip(packed["deadline"], packed["seq"], values, labels, strict=True))
