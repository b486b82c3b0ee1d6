"""Per-track popularity features (cross-partition): an offline experiment only.

These need every listener's plays of a track, i.e. a view across Kafka partitions,
so the model does not use them. :func:`popularity_experiment` measures what they
would add on the evaluation protocol's split. Measured on the bundled Last.fm file:
scikit-learn logistic regression 0.8425 -> 0.8438 (+0.0013), LightGBM 0.8341 ->
0.8344 (+0.0003): too small to pay for a cross-partition table.

>>> stats = TrackStats()
>>> stats.features("t", 0.0)["track_plays_30d"]
0.0
>>> stats.observe("ana", "t", 0.0, replay_within_horizon_of_previous=False)
>>> stats.observe("bo", "t", 10.0, replay_within_horizon_of_previous=False)
>>> stats.features("t", 20.0)["track_listeners_30d"]
2.0
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from models.events import PlayEvent
from models.features import DAY, FEATURE_NAMES
from models.processor import PlayProcessor
from models.settings import ModelSettings

TRACK_FEATURES = ("track_plays_30d", "track_listeners_30d", "track_plays", "track_replay_share")


class TrackStats:
    """Plays of each track by everyone: 30-day window, listeners, replay share."""

    def __init__(self) -> None:
        self.window: dict[str, deque[tuple[float, str]]] = {}
        self.listeners: dict[str, dict[str, int]] = {}
        self.plays: dict[str, int] = {}
        self.replays: dict[str, int] = {}

    def _expire(self, track: str, ts: float) -> None:
        win = self.window.get(track)
        who = self.listeners.get(track)
        while win and who is not None and win[0][0] <= ts - 30 * DAY:
            _, user = win.popleft()
            who[user] -= 1
            if not who[user]:
                del who[user]

    def features(self, track: str, ts: float) -> dict[str, float]:
        self._expire(track, ts)
        n = self.plays.get(track, 0)
        return {
            "track_plays_30d": float(len(self.window.get(track, ()))),
            "track_listeners_30d": float(len(self.listeners.get(track, {}))),
            "track_plays": float(n),
            "track_replay_share": self.replays.get(track, 0) / n if n else 0.0,
        }

    def observe(self, user: str, track: str, ts: float, *, replay_within_horizon_of_previous: bool) -> None:
        self.window.setdefault(track, deque()).append((ts, user))
        who = self.listeners.setdefault(track, {})
        who[user] = who.get(user, 0) + 1
        self.plays[track] = self.plays.get(track, 0) + 1
        self.replays[track] = self.replays.get(track, 0) + int(replay_within_horizon_of_previous)


def popularity_experiment(
    plays: Sequence[PlayEvent], settings: ModelSettings | None = None
) -> dict[str, Any]:
    """Batch baselines' test AUC without and with the track features (same protocol)."""
    from sklearn.metrics import roc_auc_score

    from models.baselines import fit_lightgbm, fit_sklearn_logreg

    cfg = settings or ModelSettings()
    horizon = cfg.horizon_days * DAY
    proc = PlayProcessor(cfg)
    stats = TrackStats()
    rows: list[dict[str, float]] = []
    times: list[float] = []
    row_of: dict[str, int] = {}
    labels: dict[int, bool] = {}
    for play in sorted(plays, key=lambda p: p.played_at):
        ts = play.ts
        done = proc.process(play)
        features = done.named
        if features is None:
            continue
        if not done.late:
            row_of[play.event_id] = len(rows)
            rows.append({**features, **stats.features(play.track_id, ts)})
            times.append(ts)
        since = features["pair_since_last_s"]
        stats.observe(
            play.user_id,
            play.track_id,
            ts,
            replay_within_horizon_of_previous=features["pair_plays"] > 0 and since <= horizon,
        )
        labels.update((row_of[e.event_id], e.label) for e in done.examples)
    labels.update((row_of[e.event_id], e.label) for e in proc.finish())
    frame = pd.DataFrame(rows)
    ts_arr = np.asarray(times)
    y = np.zeros(len(rows), dtype=bool)
    known = np.zeros(len(rows), dtype=bool)
    for i, lab in labels.items():
        y[i], known[i] = lab, True
    labelled = known & (ts_arr + horizon <= proc.labeller.max_event_time)
    split = float(np.quantile(ts_arr[labelled], 0.7))
    test = labelled & (ts_arr > split)
    train = labelled & (ts_arr + horizon <= split)
    out: dict[str, Any] = {}
    counts = {"track_plays_30d", "track_listeners_30d", "track_plays"}
    for name, cols in (
        ("listener_features", list(FEATURE_NAMES)),
        ("with_track_features", [*FEATURE_NAMES, *TRACK_FEATURES]),
    ):
        sub = frame[cols].copy()
        for c in counts & set(cols):  # log1p, as prepare() does for the listener counts
            sub[c] = np.log1p(sub[c])
        logreg = fit_sklearn_logreg(sub[train], y[train])
        gbm = fit_lightgbm(sub[train], y[train])
        out[name] = {
            "sklearn_logreg_auc_test": float(roc_auc_score(y[test], logreg.predict_proba(sub[test])[:, 1])),
            "lightgbm_auc_test": float(roc_auc_score(y[test], gbm.predict_proba(sub[test])[:, 1])),
        }
    return out
