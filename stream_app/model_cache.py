"""A worker's copy of the latest model, refreshed from Redis, trusted only when signed.

Pickle runs code when loaded, so a snapshot is loaded only after its HMAC checks out
(:func:`models.snapshot.load_snapshot`). A refused snapshot is logged and the previous
model keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from models.features import FeatureRow
from models.learner import DelayedLearner
from models.prepare import features_frame
from models.snapshot import SnapshotError, load_snapshot
from stream_app.recs_store import ModelSnapshot

log = logging.getLogger("encore.model")

#: Version reported before any snapshot exists.
UNTRAINED = "untrained"


class LatestModel:
    """The newest verified snapshot, for play-time predictions and for scoring."""

    def __init__(self, *, key: bytes, read: Callable[[], ModelSnapshot | None],
                 peek_version: Callable[[], str | None]) -> None:  # fmt: skip
        self._key = key
        self._read = read
        self._peek = peek_version
        self.learner = DelayedLearner()
        self.version = UNTRAINED
        self.refused = 0
        self._refused_version: str | None = None

    def refresh(self) -> bool:
        """Load the latest snapshot if it is newer; return True when the model changed."""
        version = self._peek()
        if version is None or version in (self.version, self._refused_version):
            return False
        snapshot = self._read()
        if snapshot is None:
            return False
        try:
            learner, _ = load_snapshot(snapshot.data, key=self._key)
        except SnapshotError as exc:
            self.refused += 1
            self._refused_version = snapshot.version  # not re-read every refresh
            log.error("refused model snapshot %s (%s); still serving %s", snapshot.version, exc, self.version)
            return False
        self.learner, self.version = learner, snapshot.version
        return True

    def predict(self, rows: Sequence[FeatureRow]) -> list[float]:
        """P(replay) for each row of features, in one batch."""
        if not rows:
            return []
        return self.learner.predict_proba_many(features_frame(list(rows))).tolist()
