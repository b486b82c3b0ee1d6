"""Offline evaluation: the stream's feature, label and learner code over a file.

Protocol (issue 4):

- Plays are replayed in event-time order through :class:`~models.processor.PlayProcessor`
  (de-duplication, frozen features, the label rule) exactly as the stream app runs it.
- Online, prequential: the :class:`~models.learner.DelayedLearner` predicts each play
  when it arrives and learns it when its horizon closes in event time.
- Labelled plays are plays whose full horizon lies inside the data
  (``ts + horizon <= latest event time``).
- Temporal split at the 70% time quantile of labelled plays: test = labelled plays
  after it; batch models train only on plays whose label was known then
  (``ts + horizon <= split``).
- Baselines on the same features in the same run: scikit-learn logistic regression,
  LightGBM and the heuristics of :mod:`models.baselines`.

>>> from datetime import datetime, timedelta, UTC
>>> from models.events import PlayEvent, event_time_order
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> plays = [PlayEvent(user_id=f"u{i % 7}", track_id=f"t{(i * i) % 11}",
...                    played_at=t0 + timedelta(hours=5 * i)) for i in range(900)]
>>> result = evaluate(plays)
>>> result.plays, result.labelled > 0, 0.0 <= result.positive_rate <= 1.0
(900, True, True)
>>> sorted(result.to_json_dict())[:4]
['counts', 'heuristic_auc_test', 'labelled', 'lightgbm_auc_test']
"""

from __future__ import annotations

import itertools
import math
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.baselines import HEURISTICS, fit_lightgbm, fit_sklearn_logreg, gain_importances
from models.events import PlayEvent
from models.features import DAY, FEATURE_NAMES
from models.labels import thaw
from models.learner import LEARN_BATCH, DelayedLearner, make_learner
from models.play_log import PlayLog, in_event_time_order
from models.processor import PlayProcessor
from models.settings import ModelSettings

#: Called as ``progress(done, total)`` every few thousand plays.
Progress = Callable[[int, int], None]

#: Quantile of labelled play times where the temporal split falls.
SPLIT_QUANTILE = 0.7
#: Plays decoded from the input at a time (outside the timed loop).
DECODE_BLOCK = 1 << 16


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(labels) == 0 or labels.min() == labels.max():
        return None
    return float(roc_auc_score(labels, scores))


def _logloss(labels: np.ndarray, proba: np.ndarray) -> float | None:
    if len(labels) == 0:
        return None
    p = np.clip(proba, 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


@dataclass
class EvaluationResult:
    """Figures of one run, plus what a report draws from (Python API only)."""

    plays: int
    labelled: int
    positive_rate: float | None
    online_auc: float | None
    online_auc_test: float | None
    online_logloss_test: float | None
    sklearn_logreg_auc_test: float | None
    lightgbm_auc_test: float | None
    heuristic_auc_test: dict[str, float | None]
    #: Feature + label + predict + learn path over the whole input, plays per second
    #: of CPU time of this one thread (one core; other processes' load does not count).
    plays_per_second: float
    #: The same per second of wall-clock time (lower when the machine is busy).
    wall_plays_per_second: float
    #: Event time (POSIX s) of the temporal split, and example counts around it.
    split_time: float | None
    train_size: int
    test_size: int
    #: duplicate / short / stale / late plays seen by the processor.
    counts: dict[str, int]
    #: One row per labelled test play: ts, user_id, track_id, label, and the score of
    #: every model (``online``, ``sklearn_logreg``, ``lightgbm``, heuristics).
    test_predictions: pd.DataFrame = field(repr=False)
    #: Online AUC per 30-day window of labelled plays: (window end ts, n, auc).
    online_auc_over_time: list[tuple[float, int, float | None]] = field(repr=False)
    lightgbm_importance: dict[str, float] = field(repr=False)
    online_weights: dict[str, float] = field(repr=False)
    #: The online learner at the end of the run.
    learner: DelayedLearner = field(repr=False)

    def to_json_dict(self) -> dict[str, Any]:
        """The figures as one JSON-ready object (what ``encore evaluate --json`` prints)."""
        return {
            "plays": self.plays,
            "labelled": self.labelled,
            "positive_rate": _round(self.positive_rate),
            "online_auc": _round(self.online_auc),
            "online_auc_test": _round(self.online_auc_test),
            "online_logloss_test": _round(self.online_logloss_test),
            "sklearn_logreg_auc_test": _round(self.sklearn_logreg_auc_test),
            "lightgbm_auc_test": _round(self.lightgbm_auc_test),
            "heuristic_auc_test": {k: _round(v) for k, v in self.heuristic_auc_test.items()},
            "plays_per_second": round(self.plays_per_second, 1),
            "wall_plays_per_second": round(self.wall_plays_per_second, 1),
            "split_time": self.split_time,
            "train_size": self.train_size,
            "test_size": self.test_size,
            "counts": self.counts,
        }


def evaluate(
    plays: Sequence[PlayEvent] | PlayLog,
    settings: ModelSettings | None = None,
    *,
    model: Any = None,
    batch_size: int = LEARN_BATCH,
    progress: Progress | None = None,
    baselines: bool = True,
) -> EvaluationResult:
    """Run the protocol over ``plays`` (any order: replayed sorted by event time).

    Give a :class:`~models.play_log.PlayLog` for inputs of millions of plays: it holds
    ~50 B per play where ``PlayEvent`` objects take ~1.1 KB. Features of the counted
    plays are kept as one float array (184 B per play), not as dicts.

    ``model`` is a River classifier for the online learner, learnt in mini-batches of
    ``batch_size`` (default: :func:`models.learner.make_learner`, the trainer's).
    """
    cfg = settings or ModelSettings()
    horizon = cfg.horizon_days * DAY
    ordered = in_event_time_order(plays)
    n = len(plays)
    proc = PlayProcessor(cfg)
    learner = (
        make_learner(horizon)
        if model is None
        else DelayedLearner(model, horizon_s=horizon, batch_size=batch_size)
    )

    # Per counted, on-time play: its row in the arrays below, while its label is
    # pending (each label resolves once).
    row_of: dict[str, int] = {}
    rows_ts = array("d")
    rows_user: list[str] = []
    rows_track: list[str] = []
    rows_feat = array("d")  # FEATURE_NAMES values of each row, one row after another
    rows_pred = array("d")
    rows_label = array("b")  # 1 / 0 once resolved, -1 until then
    width = len(FEATURE_NAMES)
    tick = max(1, min(4096, n // 50))
    # Predictions wait until the model is about to change: the model is the same for
    # every play in between, so one predict_proba_many equals predicting each play
    # when it arrives (predict before learn, exactly). The rows waiting are the last
    # ones added, from ``waiting_from`` on.
    waiting_from = 0

    def predict_waiting() -> None:
        nonlocal waiting_from
        end = len(rows_ts)
        if end > waiting_from:
            values = np.frombuffer(rows_feat, dtype=float)[waiting_from * width : end * width]
            values = values.reshape(end - waiting_from, width)
            if end - waiting_from == 1 or not learner.n_learnt:
                for j, row in enumerate(values.tolist(), waiting_from):
                    rows_pred[j] = learner.predict_proba_one(thaw(row))
            else:
                proba = learner.predict_proba_many(pd.DataFrame(values, columns=list(FEATURE_NAMES)))
                rows_pred[waiting_from:end] = array("d", proba.tolist())
            waiting_from = end

    # Plays are decoded a block at a time outside the clocks, as parsing and sorting
    # are: the figures time the feature, label, predict and learn path only.
    cpu = elapsed = 0.0
    i = 0
    while block := list(itertools.islice(ordered, DECODE_BLOCK)):
        started, cpu_started = time.perf_counter(), time.process_time()
        for play in block:
            out = proc.process(play)
            values = out.features
            if values is not None and not out.late:
                row_of[play.event_id] = len(rows_ts)
                rows_label.append(-1)
                rows_ts.append(play.ts)
                rows_user.append(play.user_id)
                rows_track.append(play.track_id)
                rows_feat.extend(values)
                rows_pred.append(0.5)
            if out.examples:
                for ex in out.examples:
                    rows_label[row_of.pop(ex.event_id)] = ex.label
                learner.add(out.examples)
            if learner.close(proc.watermark):
                predict_waiting()
                learner.flush()
            if progress is not None and i % tick == 0:
                progress(i, n)
            i += 1
        cpu += time.process_time() - cpu_started
        elapsed += time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    predict_waiting()
    cpu += time.process_time() - cpu_started
    elapsed += time.perf_counter() - started
    for ex in proc.finish():
        rows_label[row_of.pop(ex.event_id)] = ex.label
    if progress is not None:
        progress(n, n)

    m = len(rows_ts)
    ts = np.frombuffer(rows_ts, dtype=float)
    label = np.frombuffer(rows_label, dtype=np.int8)
    y, known = label == 1, label >= 0
    pred = np.frombuffer(rows_pred, dtype=float)
    end = proc.labeller.max_event_time
    labelled = known & (ts + horizon <= end)
    n_lab = int(labelled.sum())

    split: float | None = None
    test = np.zeros(m, dtype=bool)
    train = np.zeros(m, dtype=bool)
    if n_lab:
        split = float(np.quantile(ts[labelled], SPLIT_QUANTILE))
        test = labelled & (ts > split)
        train = labelled & (ts + horizon <= split)

    frame = pd.DataFrame(np.frombuffer(rows_feat, dtype=float).reshape(m, width), columns=list(FEATURE_NAMES))
    test_frame = frame[test]
    y_test = y[test]
    scores: dict[str, np.ndarray] = {"online": pred[test]}
    sk_auc = lgb_auc = None
    importance: dict[str, float] = {}
    heuristics: dict[str, float | None] = {}
    if baselines and train.any() and test.any() and y[train].min() != y[train].max():
        sk = fit_sklearn_logreg(frame[train], y[train])
        scores["sklearn_logreg"] = sk.predict_proba(test_frame)[:, 1]
        sk_auc = _auc(y_test, scores["sklearn_logreg"])
        gbm = fit_lightgbm(frame[train], y[train])
        scores["lightgbm"] = gbm.predict_proba(test_frame)[:, 1]
        lgb_auc = _auc(y_test, scores["lightgbm"])
        importance = gain_importances(gbm, list(frame.columns))
    for name, score in HEURISTICS.items():
        scores[name] = score(test_frame)
        heuristics[name] = _auc(y_test, scores[name])

    test_predictions = pd.DataFrame(
        {
            "ts": ts[test],
            "user_id": np.asarray(rows_user, dtype=object)[test],
            "track_id": np.asarray(rows_track, dtype=object)[test],
            "label": y_test,
            **scores,
        }
    )
    over_time: list[tuple[float, int, float | None]] = []
    if n_lab:
        lab_ts, lab_y, lab_p = ts[labelled], y[labelled], pred[labelled]
        edge = float(lab_ts.min())
        while edge <= lab_ts.max():
            sel = (lab_ts >= edge) & (lab_ts < edge + 30 * DAY)
            over_time.append((edge + 30 * DAY, int(sel.sum()), _auc(lab_y[sel], lab_p[sel])))
            edge += 30 * DAY

    return EvaluationResult(
        plays=n,
        labelled=n_lab,
        positive_rate=float(y[labelled].mean()) if n_lab else None,
        online_auc=_auc(y[labelled], pred[labelled]),
        online_auc_test=_auc(y_test, pred[test]),
        online_logloss_test=_logloss(y_test.astype(float), pred[test]),
        sklearn_logreg_auc_test=sk_auc,
        lightgbm_auc_test=lgb_auc,
        heuristic_auc_test=heuristics,
        plays_per_second=n / cpu if cpu > 0 else float("inf"),
        wall_plays_per_second=n / elapsed if elapsed > 0 else float("inf"),
        split_time=split,
        train_size=int(train.sum()),
        test_size=int(test.sum()),
        counts={k: int(proc.counts.get(k, 0)) for k in ("duplicate", "short", "stale", "late")},
        test_predictions=test_predictions,
        online_auc_over_time=over_time,
        lightgbm_importance=importance,
        online_weights=learner.weights(),
        learner=learner,
    )
