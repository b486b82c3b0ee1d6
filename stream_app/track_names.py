"""Track names the API has read from Redis recently: ``track_id -> (name, artist)``.

A lookup used to read the name and artist of each of its k items inside its Lua script:
10 of the script's 13 Redis calls, and 20 of the strings its reply carried, for values
that change rarely (a play carrying another spelling) and repeat across listeners (the
same popular tracks). The reader keeps what it read here and asks Redis only for the
tracks it has not seen in the last ``ttl_s`` seconds, so a renamed track shows its new
name within ``ttl_s``. At most ``max_tracks`` are kept; past that the oldest go first.

>>> names = TrackNames(ttl_s=30.0, max_tracks=2)
>>> names.split(["t1", "t2"])
({}, ['t1', 't2'])
>>> names.put("t1", "Song", "Band"); names.put("t2", None, None)
>>> names.split(["t1", "t2", "t3"])
({'t1': ('Song', 'Band'), 't2': (None, None)}, ['t3'])
>>> names.put("t3", "Other", None)  # a third: t1, the oldest, goes
>>> names.split(["t1", "t3"])
({'t3': ('Other', None)}, ['t1'])
"""

from __future__ import annotations

import time

Names = tuple[str | None, str | None]


class TrackNames:
    """See the module's docstring. Everything is dropped every ``ttl_s`` seconds (one clock
    read per lookup, not one per entry)."""

    def __init__(self, *, ttl_s: float = 30.0, max_tracks: int = 200_000) -> None:
        self.ttl_s = ttl_s
        self.max_tracks = max_tracks
        self._names: dict[str, Names] = {}
        self._expires = time.monotonic() + ttl_s

    def __len__(self) -> int:
        return len(self._names)

    def split(self, track_ids: list[str]) -> tuple[dict[str, Names], list[str]]:
        """(names of the ids held, the ids to read from Redis), first dropping expired names."""
        now = time.monotonic()
        if now >= self._expires:
            self._names.clear()
            self._expires = now + self.ttl_s
        names = self._names
        held = {t: names[t] for t in track_ids if t in names}
        return held, [t for t in track_ids if t not in held] if len(held) < len(track_ids) else []

    def put(self, track_id: str, name: str | None, artist: str | None) -> None:
        names = self._names
        if track_id not in names and len(names) >= self.max_tracks:
            del names[next(iter(names))]  # dicts keep insertion order: the oldest
        names[track_id] = (name, artist)
