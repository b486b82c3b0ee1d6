"""Batch baselines on the online model's own features, for a side-by-side run.

scikit-learn logistic regression (on :func:`models.prepare.prepare_frame` features,
standard-scaled), LightGBM (raw features; trees do not care about monotone
transforms) and three one-feature heuristics.

>>> import pandas as pd
>>> frame = pd.DataFrame({"pair_plays": [0.0, 3.0], "pair_since_last_s": [9e6, 60.0],
...                       "pair_plays_30d": [0.0, 2.0]})
>>> HEURISTICS["recency"](frame).tolist()
[-9000000.0, -60.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from models.prepare import prepare_frame

#: name -> score function (higher = more likely replayed); each reads one feature.
HEURISTICS: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
    "pair_plays": lambda f: f["pair_plays"].to_numpy(dtype=float),
    "recency": lambda f: -f["pair_since_last_s"].to_numpy(dtype=float),
    "pair_plays_30d": lambda f: f["pair_plays_30d"].to_numpy(dtype=float),
}


def fit_sklearn_logreg(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    """Scaled scikit-learn logistic regression on prepared features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    model = make_pipeline(
        FunctionTransformer(prepare_frame),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )
    return model.fit(frame, labels)


def fit_lightgbm(frame: pd.DataFrame, labels: np.ndarray) -> Any:
    """LightGBM with its defaults (untuned), one thread, gain importances."""
    import lightgbm as lgb

    model = lgb.LGBMClassifier(n_jobs=1, verbose=-1, importance_type="gain", random_state=0)
    return model.fit(frame, labels)


def gain_importances(model: Any, columns: list[str]) -> dict[str, float]:
    """LightGBM gain importance per feature, largest first."""
    gains = [float(g) for g in model.booster_.feature_importance(importance_type="gain")]
    return dict(sorted(zip(columns, gains, strict=True), key=lambda kv: -kv[1]))
