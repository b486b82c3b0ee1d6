"""Seeded synthetic listeners that mimic the bundled Last.fm file's distributions.

From the file (304 listeners, 789 tracks, 129,310 plays) the generator takes:

- each listener's **activity** (plays in the file) and **repertoire ratio** (distinct
  tracks / plays), resampled jointly from real listeners: heavy-tailed, as in the file;
- **track popularity** (plays per track), from which a listener's repertoire is drawn;
- inside a repertoire, a Zipf(1.6) preference (a few favourites, many rarities), which
  gives a 30-day replay rate near the file's (about 70%).

Two uses: :meth:`Population.batch` makes a whole history per listener (memory
benchmark), :meth:`Population.next_plays` draws the live stream (freshness, soak).

>>> pop = Population(1000, seed=7)
>>> plays = pop.batch(mean_plays=10, window_s=86400.0, end=1.7e9)
>>> len({p[0] for p in plays}) > 900, abs(len(plays) / 1000 - 10) < 3
(True, True)
>>> pop.next_plays(3)[0][0].startswith("s")
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from bench.common import LASTFM

#: (user_id, track_id, played_at POSIX seconds)
Play = tuple[str, str, float]


@dataclass(frozen=True)
class FileStats:
    user_plays: np.ndarray
    user_ratio: np.ndarray
    track_ids: np.ndarray
    track_p: np.ndarray


@functools.cache
def file_stats() -> FileStats:
    import pandas as pd

    df = pd.read_csv(LASTFM, sep="\t", header=None, names=["u", "i", "t"])
    per_user = df.groupby("u").agg(n=("i", "size"), d=("i", "nunique"))
    tracks = df.groupby("i").size()
    return FileStats(
        user_plays=per_user["n"].to_numpy(dtype=float),
        user_ratio=(per_user["d"] / per_user["n"]).to_numpy(dtype=float),
        track_ids=np.array([str(i) for i in tracks.index]),
        track_p=(tracks / tracks.sum()).to_numpy(dtype=float),
    )


class Population:
    """``n`` synthetic listeners ``s0``..``s{n-1}`` (seeded)."""

    def __init__(self, n: int, *, seed: int = 42, zipf_a: float = 1.6) -> None:
        stats = file_stats()
        self.n = n
        self.rng = np.random.default_rng(seed)
        pick = self.rng.integers(0, len(stats.user_plays), size=n)
        self.activity = stats.user_plays[pick]
        self.ratio = stats.user_ratio[pick]
        self.weights = self.activity / self.activity.sum()
        self.zipf_a = zipf_a
        self.stats = stats
        self._repertoire: dict[int, np.ndarray] = {}
        self._queue: list[int] = []

    def user_id(self, i: int) -> str:
        return f"s{i}"

    def repertoire(self, i: int, size: int | None = None) -> np.ndarray:
        rep = self._repertoire.get(i)
        if rep is None:
            k = size or max(1, round(self.activity[i] * self.ratio[i]))
            k = min(k, len(self.stats.track_ids))
            rep = self.rng.choice(len(self.stats.track_ids), size=k, replace=False, p=self.stats.track_p)
            self._repertoire[i] = rep
        return rep

    def _pick_in(self, rep: np.ndarray, n: int) -> np.ndarray:
        ranks = np.minimum(self.rng.zipf(self.zipf_a, size=n) - 1, len(rep) - 1)
        return rep[ranks]

    def batch(self, *, mean_plays: float, window_s: float, end: float) -> list[Play]:
        """A history for every listener inside ``(end - window_s, end]``, time order.

        Each listener's play count is their file activity scaled to ``mean_plays`` on
        average (at least 1); their repertoire keeps the file's distinct/plays ratio.
        """
        scale = mean_plays / self.activity.mean()
        counts = np.maximum(1, self.rng.poisson(self.activity * scale))
        ids = self.stats.track_ids
        out: list[Play] = []
        for i, c in enumerate(counts):
            rep = self.repertoire(i, size=max(1, round(c * self.ratio[i])))
            tracks = self._pick_in(rep, int(c))
            times = end - self.rng.random(int(c)) * window_s
            uid = self.user_id(i)
            out.extend((uid, str(ids[t]), float(ts)) for t, ts in zip(tracks, times, strict=True))
            self._repertoire.pop(i, None)  # memory: histories are made once
        out.sort(key=lambda p: p[2])
        return out

    def next_plays(self, n: int) -> list[tuple[str, str]]:
        """The next ``n`` plays of the live stream: (user_id, track_id), listeners drawn by
        activity, tracks from their repertoire."""
        if len(self._queue) < n:
            self._queue.extend(self.rng.choice(self.n, size=max(n, 20_000), p=self.weights).tolist())
        users, self._queue = self._queue[:n], self._queue[n:]
        ids = self.stats.track_ids
        return [(self.user_id(u), str(ids[self._pick_in(self.repertoire(u), 1)[0]])) for u in users]
