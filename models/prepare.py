"""Model input from raw features: ``log1p`` of counts and durations, as dicts or frames.

Shared by every learner (:mod:`models.learner`, :mod:`models.newton`) and the batch
baselines, so online and batch models see the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import pandas as pd
from river import base

from models.features import FEATURE_NAMES, FeatureRow, Features

#: Features that are counts or durations; :func:`prepare` takes ``log1p`` of them.
LOG_FEATURES: frozenset[str] = frozenset(
    name for name in FEATURE_NAMES if name.endswith("_s") or "plays" in name or name == "user_distinct_tracks"
)


def prepare(x: Features) -> Features:
    """Model input from raw features: ``log1p`` of counts and seconds, the rest as is.

    >>> prepare({"pair_plays": math.e - 1, "hour_sin": 0.5})
    {'pair_plays': 1.0, 'hour_sin': 0.5}
    """
    return {k: math.log1p(v) if k in LOG_FEATURES else v for k, v in x.items()}


def prepare_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`prepare` on a DataFrame of raw features (columns of FEATURE_NAMES)."""
    import numpy as np

    values = frame.to_numpy(dtype=float, copy=True)
    cols = [i for i, c in enumerate(frame.columns) if c in LOG_FEATURES]
    if cols:
        values[:, cols] = np.log1p(values[:, cols])
    return pd.DataFrame(values, columns=frame.columns, index=frame.index)


def features_frame(rows: Sequence[FeatureRow] | Sequence[Features]) -> pd.DataFrame:
    """Rows as a DataFrame: value rows (:data:`~models.features.FeatureRow`, columns
    FEATURE_NAMES) or feature dicts (fast when all share one key order).

    >>> features_frame([tuple(range(len(FEATURE_NAMES)))])["user_plays_1d"].tolist()
    [1.0]
    """
    if not rows:
        return pd.DataFrame()
    import numpy as np

    first = rows[0]
    if isinstance(first, tuple):
        values = np.array(rows, dtype=float)
        if values.ndim != 2 or values.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"feature rows of shape {values.shape}; FEATURE_NAMES has {len(FEATURE_NAMES)}")
        return pd.DataFrame(values, columns=list(FEATURE_NAMES))
    keys = list(first)
    if len(keys) < 2:
        return pd.DataFrame(rows, dtype=float)
    try:
        values = np.array(list(map(itemgetter(*keys), rows)), dtype=float)
    except KeyError:
        return pd.DataFrame(rows)
    return pd.DataFrame(values, columns=keys)


class Prepare(base.Transformer):
    """River transformer applying :func:`prepare` (one dict or a DataFrame)."""

    def transform_one(self, x: dict[Any, Any]) -> dict[Any, Any]:
        return prepare(x)

    def transform_many(self, X: pd.DataFrame) -> pd.DataFrame:
        return prepare_frame(X)

    def learn_many(self, X: pd.DataFrame) -> None:
        """Stateless: nothing to learn."""
