"""The one module that reads and writes the Redis contract (DESIGN.md, "Recommendations").

Writers are sync (``redis.Redis``) for the Faust scorer and trainer; readers are async
(``redis.asyncio.Redis``) for the API, plus the few sync reads the stream app needs
(the model snapshot). Nothing else in the repo should spell a key.

Keys (``P`` = prefix, a setting, default ``encore:``):

===============================  =======  ===================================================
key                              type     content
===============================  =======  ===================================================
``P recs:{user_id}``             ZSET     track_id -> P(replay within 30 days)
``P recs-meta:{user_id}``        HASH     model_version, scored_at, as_of_event_time (ISO-8601
                                          UTC), reason (list-level: ``personalised`` or
                                          ``cold_start: trending``...), count
``P recs-reasons:{user_id}``     HASH     track_id -> why this item (per-item reason; an item
                                          without one falls back to the list-level reason)
``P track:{track_id}``           HASH     name, artist (when known)
``P model:latest``               HASH     bytes (snapshot), version, hmac (hex HMAC-SHA256 of
                                          bytes), examples_learned, rolling_auc,
                                          rolling_logloss, published_at (wall time, ISO)
``P model:history``              STREAM   one entry per metrics point: event_time, wall_time
                                          (POSIX s), auc, logloss, examples,
                                          plays_per_second; capped ``MAXLEN ~``
``P history:{user_id}``          LIST     recent plays as JSON, newest first, each once,
                                          LTRIM to N
``P listeners``                  ZSET     user_id -> last event time seen (POSIX s)
``P workers``                    HASH     worker name -> JSON of its running counters
===============================  =======  ===================================================

Round trips:

- ``RecsWriter.write_recommendations`` replaces the three ``recs*`` keys of each listener
  of a batch in one Lua script call (DEL + ZADD + HSET + HSET + ZADD GT per listener):
  one round trip, atomic like MULTI/EXEC, so a reader never sees a half-written list.
- ``RecsWriter.append_plays`` adds a batch's plays to the histories in one Lua script
  call too; a play already in its listener's list is not pushed again.
- ``RecsReader.recommendations`` is one round trip: a Lua script (EVALSHA) reads the
  meta hash, the ZSET (ZREVRANGE WITHSCORES) and the per-item reasons (or, with no
  meta, whether the listener is known), atomically, inside Redis. The items' names come
  from the reader's ``TrackNames`` (names read in the last 30 s); the tracks it lacks
  cost a second script call that reads their ``track:{id}`` hashes. If Redis has lost a
  script (a restart), SCRIPT LOAD + EVALSHA once. The API sends these calls over one
  pipelined connection (``stream_app.redis_mux``). Scripts touch keys of several
  listeners and tracks, so this is for a single Redis (not Redis Cluster), which is
  what we run.

>>> keys = RecsKeys("encore:")
>>> keys.recs("ana"), keys.track("t:1"), keys.model_history
('encore:recs:ana', 'encore:track:t:1', 'encore:model:history')
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.typing import EncodableT, FieldT

from cluster.settings import ClusterSettings
from models.events import MAX_TEXT, PlayEvent
from models.snapshot import snapshot_mac
from stream_app.redis_mux import MuxConnection
from stream_app.track_names import TrackNames

#: Listener ids the API accepts in a URL: what producers make (Last.fm numbers, Spotify
#: usernames, ``lastfm:12``...). No ``/``, ``%``, spaces or control characters.
USER_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._:@+=-]{0,127}$"

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes written to Redis must be timezone-aware")
    return value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat()


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(_str(value))
    return None if math.isnan(number) else number


# --------------------------------------------------------------------------- models


class TrackInfo(BaseModel):
    """Display names of a track."""

    model_config = ConfigDict(frozen=True)

    track_id: Identifier
    name: Text | None = None
    artist: Text | None = None


class RecItem(BaseModel):
    """One recommended track as the scorer writes it."""

    model_config = ConfigDict(frozen=True)

    track_id: Identifier
    score: Probability
    #: Why this track (``you played it 12 times``, ``co-listened with X``, ``trending``).
    reason: Text | None = None


class UserRecs(BaseModel):
    """A listener's whole recommendation list, replaced at once."""

    model_config = ConfigDict(frozen=True)

    user_id: Identifier
    items: Sequence[RecItem]
    model_version: Identifier
    #: Wall-clock time of scoring.
    scored_at: datetime
    #: Event time the features were taken at (the watermark or the listener's last play).
    as_of_event_time: datetime
    #: List-level reason, e.g. ``personalised`` or ``cold_start: trending``.
    reason: Text = "personalised"


class StoredRecItem(BaseModel):
    """One item as read back, joined with the track's names."""

    track_id: str
    score: float
    reason: str | None
    track_name: str | None
    artist_name: str | None


class StoredRecs(BaseModel):
    """What ``RecsReader.recommendations`` returns for a listener with a list."""

    user_id: str
    items: list[StoredRecItem]
    model_version: str
    scored_at: datetime
    as_of_event_time: datetime
    reason: str


class HistoryPlay(BaseModel):
    """One entry of ``history:{user_id}``."""

    model_config = ConfigDict(frozen=True)

    track_id: Identifier
    played_at: datetime
    ms_played: int | None = None
    track_name: Text | None = None
    artist_name: Text | None = None

    @classmethod
    def from_play(cls, play: PlayEvent) -> HistoryPlay:
        return cls(
            track_id=play.track_id,
            played_at=play.played_at,
            ms_played=play.ms_played,
            track_name=play.track_name,
            artist_name=play.artist_name,
        )


class ListenerEntry(BaseModel):
    user_id: str
    last_event_time: datetime


class ModelMetrics(BaseModel):
    """The trainer's running metrics, stored beside the latest snapshot."""

    model_config = ConfigDict(frozen=True)

    examples_learned: int = Field(ge=0)
    rolling_auc: Probability | None = None
    rolling_logloss: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None


class ModelSnapshot(BaseModel):
    """A signed learner snapshot (:mod:`models.snapshot` bytes) with its version.

    ``hmac`` is the MAC written inside ``data``, kept beside it for display; only
    :func:`models.snapshot.load_snapshot` verifies it (before unpickling anything).
    """

    model_config = ConfigDict(frozen=True)

    version: Identifier
    data: bytes
    hmac: str

    @classmethod
    def of_blob(cls, version: str, blob: bytes) -> ModelSnapshot:
        return cls(version=version, data=blob, hmac=snapshot_mac(blob))


class ModelInfo(BaseModel):
    """``model:latest`` without the snapshot bytes."""

    version: str
    examples_learned: int
    rolling_auc: float | None
    rolling_logloss: float | None
    published_at: datetime | None
    snapshot_bytes: int


class MetricsPoint(BaseModel):
    """One entry of ``model:history`` (the web page's charts)."""

    model_config = ConfigDict(frozen=True)

    #: Event time the metrics are as of (POSIX s).
    event_time: float
    #: Wall-clock time of the measurement (POSIX s).
    wall_time: float
    auc: Probability | None = None
    logloss: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    examples: int = Field(ge=0)
    plays_per_second: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0


@dataclass(frozen=True)
class RecsKeys:
    """Every key name of the contract, from one prefix."""

    prefix: str = "encore:"

    def recs(self, user_id: str) -> str:
        return f"{self.prefix}recs:{user_id}"

    def meta(self, user_id: str) -> str:
        return f"{self.prefix}recs-meta:{user_id}"

    def reasons(self, user_id: str) -> str:
        return f"{self.prefix}recs-reasons:{user_id}"

    def track(self, track_id: str) -> str:
        return f"{self.prefix}track:{track_id}"

    def history(self, user_id: str) -> str:
        return f"{self.prefix}history:{user_id}"

    @property
    def track_prefix(self) -> str:
        return f"{self.prefix}track:"

    @property
    def listeners(self) -> str:
        return f"{self.prefix}listeners"

    @property
    def model_latest(self) -> str:
        return f"{self.prefix}model:latest"

    @property
    def model_history(self) -> str:
        return f"{self.prefix}model:history"

    @property
    def workers(self) -> str:
        return f"{self.prefix}workers"


# --------------------------------------------------------------------------- clients


def sync_client(settings: ClusterSettings, *, timeout_s: float = 5.0) -> redis.Redis:
    """A pooled sync client for the workers (password from settings, never printed)."""
    return redis.Redis(
        host=settings.redis_host or settings.host,
        port=settings.redis_port,
        password=settings.redis_password_value(),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
    )


def async_client(
    settings: ClusterSettings, *, timeout_s: float = 1.0, max_connections: int = 32
) -> aioredis.Redis:
    """One pooled async client for the API.

    Fails fast (one quick retry) so that an unreachable Redis becomes a 503 within about
    ``timeout_s`` instead of a long backoff; a request waits at most ``timeout_s`` for a
    free pooled connection.
    """
    pool = aioredis.BlockingConnectionPool(
        host=settings.redis_host or settings.host,
        port=settings.redis_port,
        password=settings.redis_password_value(),
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=AsyncRetry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
    )
    return aioredis.Redis(connection_pool=pool)


# --------------------------------------------------------------------------- writer


#: KEYS: listeners, then per listener its recs, reasons and meta keys. ARGV: per
#: listener user_id, its ``listeners`` score, model_version, scored_at,
#: as_of_event_time, reason, item count n, then n times (track_id, score, has_reason
#: 0/1, reason). The commands a MULTI/EXEC of them ran, in one command to pack and one
#: reply to parse: redis-py spent ~100 us a listener packing the five commands of each
#: and parsing their replies (2026-12-07; docs/performance.md). Returns the listeners
#: written.
WRITE_RECS_LUA = """
local a = 1
local users = (#KEYS - 1) / 3
for u = 0, users - 1 do
  local recs, reasons, meta = KEYS[2 + 3 * u], KEYS[3 + 3 * u], KEYS[4 + 3 * u]
  local n = tonumber(ARGV[a + 6])
  redis.call('DEL', recs, reasons, meta)
  if n > 0 then
    local scored, why = {}, {}
    for b = a + 7, a + 6 + 4 * n, 4 do
      scored[#scored + 1] = ARGV[b + 1]
      scored[#scored + 1] = ARGV[b]
      if ARGV[b + 2] == '1' then
        why[#why + 1] = ARGV[b]
        why[#why + 1] = ARGV[b + 3]
      end
    end
    redis.call('ZADD', recs, unpack(scored))
    if #why > 0 then redis.call('HSET', reasons, unpack(why)) end
  end
  redis.call('HSET', meta, 'model_version', ARGV[a + 2], 'scored_at', ARGV[a + 3],
             'as_of_event_time', ARGV[a + 4], 'reason', ARGV[a + 5], 'count', ARGV[a + 6])
  redis.call('ZADD', KEYS[1], 'GT', ARGV[a + 1], ARGV[a])
  a = a + 7 + 4 * n
end
return users
"""


#: history_len, listener count U, then U times (user_id, last play's time, entry count
#: n, n history entries oldest first), then two values per track key (name, artist;
#: '' = leave that field as it is). KEYS: listeners, the U history lists, the track
#: hashes. An entry already in its list (LPOS, O(history_len)) is not pushed again:
#: the worker's plays are at-least-once. Returns U.
APPEND_HISTORY_LUA = """
local cap, users = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = 3
for u = 1, users do
  local key = KEYS[1 + u]
  local n = tonumber(ARGV[a + 2])
  for b = a + 3, a + 2 + n do
    if not redis.call('LPOS', key, ARGV[b]) then redis.call('LPUSH', key, ARGV[b]) end
  end
  redis.call('LTRIM', key, 0, cap - 1)
  redis.call('ZADD', KEYS[1], 'GT', ARGV[a + 1], ARGV[a])
  a = a + 3 + n
end
for t = 2 + users, #KEYS do
  if ARGV[a] ~= '' then redis.call('HSET', KEYS[t], 'name', ARGV[a]) end
  if ARGV[a + 1] ~= '' then redis.call('HSET', KEYS[t], 'artist', ARGV[a + 1]) end
  a = a + 2
end
return users
"""


class RecsWriter:
    """Sync writes of the contract; every method is one round trip (a pipeline or a
    script)."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "encore:",
        *,
        history_len: int = 20,
        model_history_len: int = 5000,
    ) -> None:
        self.client = client
        self.keys = RecsKeys(prefix)
        self.history_len = history_len
        self.model_history_len = model_history_len
        self._write_recs = client.register_script(WRITE_RECS_LUA)
        self._append_history = client.register_script(APPEND_HISTORY_LUA)

    @classmethod
    def from_settings(cls, settings: ClusterSettings, **kwargs: Any) -> RecsWriter:
        return cls(sync_client(settings), settings.redis_prefix, **kwargs)

    def write_recommendations(self, recs: UserRecs | Iterable[UserRecs]) -> int:
        """Replace the lists of one or many listeners atomically (one script call,
        :data:`WRITE_RECS_LUA`: the same commands a MULTI/EXEC of them would run).

        Items are stored as given; the reader sorts by score. Returns the number of
        listeners written.
        """
        batch = [recs] if isinstance(recs, UserRecs) else list(recs)
        if not batch:
            return 0
        k = self.keys
        keys: list[str] = [k.listeners]
        args: list[EncodableT] = []
        for one in batch:
            user = one.user_id
            keys += (k.recs(user), k.reasons(user), k.meta(user))
            args += (
                user,
                repr(_utc(one.as_of_event_time).timestamp()),
                one.model_version,
                _iso(one.scored_at),
                _iso(one.as_of_event_time),
                one.reason,
                len(one.items),
            )
            for item in one.items:
                has_reason = item.reason is not None
                args += (item.track_id, repr(item.score), int(has_reason), item.reason if has_reason else "")
        self._write_recs(keys=keys, args=args)
        return len(batch)

    def write_tracks(self, tracks: Iterable[TrackInfo]) -> int:
        """Set names of tracks (fields left out are kept). One pipeline."""
        pipe = self.client.pipeline(transaction=False)
        n = 0
        for track in tracks:
            mapping: dict[FieldT, EncodableT] = {
                f: v for f, v in (("name", track.name), ("artist", track.artist)) if v is not None
            }
            if mapping:
                pipe.hset(self.keys.track(track.track_id), mapping=mapping)
                n += 1
        if n:
            pipe.execute()
        return n

    def append_plays(self, plays: Iterable[PlayEvent], *, with_tracks: bool = True) -> int:
        """Add plays to their listeners' recent history, in one script call
        (:data:`APPEND_HISTORY_LUA`).

        Per listener: each play not in the list yet is pushed (oldest first, so the
        head is the newest), the list trimmed to ``history_len``, ``listeners`` moved
        forward to the last play (ZADD GT); with ``with_tracks`` also the names the
        plays carry into ``track:{id}``. A play appended again (a batch folded again
        after a rebalance or a crash) is found where it is and not pushed twice; so do
        two plays alike in all the history shows (track, time to the microsecond, ms
        played, names), which a listener could not tell apart in it either.
        Returns the number of plays given.
        """
        by_user: dict[str, list[PlayEvent]] = defaultdict(list)
        for play in plays:
            by_user[play.user_id].append(play)
        if not by_user:
            return 0
        k = self.keys
        keys: list[str] = [k.listeners]
        args: list[EncodableT] = [self.history_len, len(by_user)]
        names: dict[str, tuple[str, str]] = {}
        total = 0
        for user, user_plays in by_user.items():
            user_plays.sort(key=lambda p: p.played_at)
            recent = user_plays[-self.history_len :]
            keys.append(k.history(user))
            args += (user, repr(user_plays[-1].played_at.timestamp()), len(recent))
            args += [HistoryPlay.from_play(p).model_dump_json(exclude_none=True) for p in recent]
            total += len(user_plays)
            if with_tracks:
                for p in user_plays:
                    if p.track_name or p.artist_name:
                        names[p.track_id] = (p.track_name or "", p.artist_name or "")
        for track_id, (name, artist) in names.items():
            keys.append(k.track(track_id))
            args += (name, artist)
        self._append_history(keys=keys, args=args)
        return total

    def publish_model(
        self,
        snapshot: ModelSnapshot,
        metrics: ModelMetrics,
        *,
        resume: ModelSnapshot | None = None,
        published_at: datetime | None = None,
    ) -> None:
        """Replace ``model:latest`` (bytes, version, hmac, metrics) in one MULTI/EXEC.

        ``resume``: the trainer's whole learner (``resume_bytes``, ``resume_version``,
        ``resume_hmac``), published less often than the model; left as it was when
        not given.
        """
        when = published_at or datetime.now(UTC)
        mapping: dict[FieldT, EncodableT] = {
            "bytes": snapshot.data,
            "version": snapshot.version,
            "hmac": snapshot.hmac,
            "examples_learned": metrics.examples_learned,
            "published_at": _iso(when),
        }
        if resume is not None:
            mapping["resume_bytes"] = resume.data
            mapping["resume_version"] = resume.version
            mapping["resume_hmac"] = resume.hmac
        absent: list[str] = []
        for field, value in (
            ("rolling_auc", metrics.rolling_auc),
            ("rolling_logloss", metrics.rolling_logloss),
        ):
            if value is None:
                absent.append(field)
            else:
                mapping[field] = value
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys.model_latest, mapping=mapping)
        if absent:
            pipe.hdel(self.keys.model_latest, *absent)
        pipe.execute()

    def record_metrics(self, point: MetricsPoint) -> None:
        """Append one point to ``model:history`` (capped, approximately)."""
        fields: dict[str, str | int | float] = {
            "event_time": point.event_time,
            "wall_time": point.wall_time,
            "examples": point.examples,
            "plays_per_second": point.plays_per_second,
        }
        if point.auc is not None:
            fields["auc"] = point.auc
        if point.logloss is not None:
            fields["logloss"] = point.logloss
        self.client.xadd(
            self.keys.model_history,
            fields,  # type: ignore[arg-type]
            maxlen=self.model_history_len,
            approximate=True,
        )

    def record_worker(self, name: str, stats: Mapping[str, int | float]) -> None:
        """A worker's running counters (plays, dead letters, late...), as JSON in one
        field of the ``workers`` hash; ``encore demo`` and the benchmarks sum them."""
        self.client.hset(self.keys.workers, name, json.dumps(dict(stats)))

    def worker_stats(self) -> dict[str, dict[str, float]]:
        """Every worker's last counters, by worker name."""
        raw = self.client.hgetall(self.keys.workers)
        return {_str(k): json.loads(v) for k, v in raw.items()}

    def clear_stream_keys(self) -> int:
        """Delete every key the stream app writes (recs, history, tracks, listeners,
        model, workers), leaving the poller's cursors and tokens alone. For a fresh
        ``encore demo``; returns the number of keys deleted."""
        k = self.keys
        patterns = [k.recs("*"), k.meta("*"), k.reasons("*"), k.history("*"), k.track("*")]
        doomed = [k.listeners, k.model_latest, k.model_history, k.workers]
        for pattern in patterns:
            doomed.extend(self.client.scan_iter(match=pattern, count=1000))
        deleted = 0
        for i in range(0, len(doomed), 1000):
            deleted += int(self.client.delete(*doomed[i : i + 1000]))
        return deleted

    # Sync reads the stream app needs.

    def model_version(self) -> str | None:
        """The latest snapshot's version, cheaply (for 'is there a newer model?')."""
        raw = self.client.hget(self.keys.model_latest, "version")
        return None if raw is None else _str(raw)

    def read_model_info(self) -> dict[str, Any]:
        """Version and metrics of the latest snapshot (no bytes); ``{}`` when none."""
        fields = ["version", "examples_learned", "rolling_auc", "rolling_logloss"]
        raw = dict(zip(fields, self.client.hmget(self.keys.model_latest, fields), strict=True))
        if raw["version"] is None:
            return {}
        info: dict[str, Any] = {"version": _str(raw["version"])}
        info["examples_learned"] = int(raw["examples_learned"] or 0)
        for name in ("rolling_auc", "rolling_logloss"):
            info[name] = _opt_float(raw[name])
        return info

    def read_model_snapshot(self) -> ModelSnapshot | None:
        """The latest snapshot; :func:`models.snapshot.load_snapshot` verifies its bytes."""
        return self._read_snapshot("version", "bytes", "hmac")

    def read_resume_snapshot(self) -> ModelSnapshot | None:
        """The trainer's latest whole learner (the model snapshot where none was
        published apart)."""
        whole = self._read_snapshot("resume_version", "resume_bytes", "resume_hmac")
        return whole or self.read_model_snapshot()

    def _read_snapshot(self, *fields: str) -> ModelSnapshot | None:
        version, data, mac = self.client.hmget(self.keys.model_latest, list(fields))
        if version is None or data is None or mac is None:
            return None
        payload = data if isinstance(data, bytes) else str(data).encode("latin-1")
        return ModelSnapshot(version=_str(version), data=payload, hmac=_str(mac))


# --------------------------------------------------------------------------- reader

#: KEYS: recs, meta, reasons, listeners. ARGV: k, user_id. Returns {known, meta as flat
#: pairs, items as {track_id, score, reason}}; when there is no meta, no items, and
#: ``known`` says whether the listener was ever seen. Three calls for a list: the names
#: of its tracks come from the reader's ``TrackNames`` (and :data:`NAMES_LUA` for the
#: ones it lacks). Reading them here, one HMGET per item and one HGET per reason, Redis
#: ran it at 22-23k lookups/s; without them, 32k/s (2026-12-08, redis-benchmark).
LOOKUP_LUA = """
local meta = redis.call('HGETALL', KEYS[2])
if #meta == 0 then
  local seen = redis.call('ZSCORE', KEYS[4], ARGV[2]) or redis.call('EXISTS', KEYS[1]) == 1
  return {seen and 1 or 0, meta, {}}
end
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local items = {}
if #ids > 0 then
  local tids = {}
  for i = 1, #ids, 2 do tids[#tids + 1] = ids[i] end
  local reasons = redis.call('HMGET', KEYS[3], unpack(tids))
  for j = 1, #tids do items[j] = {tids[j], ids[2 * j], reasons[j]} end
end
return {1, meta, items}
"""
#: KEYS: ``track:{id}`` keys. Returns {name, artist} of each (nil when not known).
NAMES_LUA = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HMGET', KEYS[i], 'name', 'artist') end
return out
"""
LOOKUP_SHA = hashlib.sha1(LOOKUP_LUA.encode("utf-8")).hexdigest()
NAMES_SHA = hashlib.sha1(NAMES_LUA.encode("utf-8")).hexdigest()


class RecsNotFoundError(LookupError):
    """No list for this listener; ``known`` says whether the listener was ever seen."""

    def __init__(self, user_id: str, known: bool) -> None:
        self.user_id = user_id
        self.known = known
        what = "has no recommendations yet" if known else "is unknown"
        super().__init__(f"listener {user_id!r} {what}")


class CorruptRecordError(ValueError):
    """A key holds something the contract does not allow."""


def _decoded(reply: Any) -> Any:
    """A redis-py reply as the mux gives it: bytes decoded as UTF-8 (invalid replaced)."""
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    if isinstance(reply, list):
        return [_decoded(x) for x in reply]
    return reply


def _parse_meta(user_id: str, flat: list[str]) -> tuple[str, datetime, datetime, str]:
    meta = dict(zip(flat[::2], flat[1::2], strict=True))
    try:
        return (
            meta["model_version"],
            datetime.fromisoformat(meta["scored_at"]),
            datetime.fromisoformat(meta["as_of_event_time"]),
            meta.get("reason", "personalised"),
        )
    except (KeyError, ValueError) as exc:
        raise CorruptRecordError(f"recs-meta of {user_id!r} is incomplete: {exc}") from exc


class RecsReader:
    """Async reads for the API; each method is one round trip (the recommendations
    lookup two when track names are missing from ``names``).

    ``mux``, when given, carries the recommendations lookup (the hot route) on one
    pipelined connection (``stream_app.redis_mux``); the other reads use ``client``.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "encore:",
        *,
        mux: MuxConnection | None = None,
        names: TrackNames | None = None,
    ) -> None:
        self.client = client
        self.keys = RecsKeys(prefix)
        self.mux = mux
        self.names = names if names is not None else TrackNames()
        self._scripts = {
            LOOKUP_SHA: client.register_script(LOOKUP_LUA),
            NAMES_SHA: client.register_script(NAMES_LUA),
        }

    async def _script(self, sha: str, keys: list[str], args: list[EncodableT]) -> Any:
        """EVALSHA of one of the reader's scripts, through ``mux`` when there is one; the
        reply with strings as ``str`` either way."""
        script = self._scripts[sha]
        if self.mux is not None:
            return await self.mux.evalsha(sha, script.script, keys, args)  # type: ignore[arg-type]
        return _decoded(await script(keys=keys, args=args))

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def recommendations(self, user_id: str, k: int) -> StoredRecs:
        """Top ``k`` items best first, with names and reasons. One round trip (EVALSHA),
        two when some of the tracks' names are not in ``names``.

        Raises ``RecsNotFoundError`` when the listener has no list.
        """
        return StoredRecs.model_validate(await self.recommendations_payload(user_id, k))

    async def recommendations_payload(self, user_id: str, k: int) -> dict[str, Any]:
        """What :meth:`recommendations` returns, as plain dicts and lists (the API's hot
        path: building them costs a fifth of validating the models). Same round trip, same
        errors; a score outside [0, 1] is a ``CorruptRecordError``.

        Keys: ``user_id``, ``items`` (dicts of ``track_id``, ``track_name``, ``artist_name``,
        ``score``, ``reason``, in that order), ``model_version``, ``scored_at``,
        ``as_of_event_time`` (aware datetimes), ``reason``.
        """
        keys = self.keys
        known, meta_flat, rows = await self._script(
            LOOKUP_SHA,
            [keys.recs(user_id), keys.meta(user_id), keys.reasons(user_id), keys.listeners],
            [k, user_id],
        )
        if not meta_flat:
            raise RecsNotFoundError(user_id, known=bool(known))
        version, scored_at, as_of, list_reason = _parse_meta(user_id, meta_flat)
        names, missing = self.names.split([row[0] for row in rows])
        if missing:
            fetched = await self._script(NAMES_SHA, [keys.track(t) for t in missing], [])
            for tid, (name, artist) in zip(missing, fetched, strict=True):
                self.names.put(tid, name, artist)
                names[tid] = (name, artist)
        items = []
        for tid, raw_score, reason in rows:
            score = float(raw_score)
            if not 0.0 <= score <= 1.0:
                raise CorruptRecordError(f"recs of {user_id!r}: score {score} outside [0, 1]")
            name, artist = names[tid]
            items.append(
                {
                    "track_id": tid,
                    "track_name": name,
                    "artist_name": artist,
                    "score": score,
                    "reason": list_reason if reason is None else reason,
                }
            )
        return {
            "user_id": user_id,
            "items": items,
            "model_version": version,
            "scored_at": scored_at,
            "as_of_event_time": as_of,
            "reason": list_reason,
        }

    async def history(self, user_id: str, limit: int) -> tuple[bool, list[HistoryPlay]]:
        """(listener known, up to ``limit`` recent plays newest first). One pipeline."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zscore(self.keys.listeners, user_id)
        pipe.lrange(self.keys.history(user_id), 0, limit - 1)
        score, raw = await pipe.execute()
        plays = [HistoryPlay.model_validate_json(item) for item in raw]
        return (score is not None or bool(plays)), plays

    async def listeners(self, limit: int) -> tuple[int, list[ListenerEntry]]:
        """(total, the ``limit`` most recently active listeners). One pipeline."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zcard(self.keys.listeners)
        pipe.zrevrange(self.keys.listeners, 0, limit - 1, withscores=True)
        total, rows = await pipe.execute()
        entries = [
            ListenerEntry(user_id=_str(user), last_event_time=datetime.fromtimestamp(ts, UTC))
            for user, ts in rows
        ]
        return int(total), entries

    async def model(self) -> ModelInfo | None:
        """``model:latest`` without its bytes (HMGET + HSTRLEN, one pipeline)."""
        fields = ["version", "examples_learned", "rolling_auc", "rolling_logloss", "published_at"]
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.model_latest, fields)
        pipe.hstrlen(self.keys.model_latest, "bytes")
        values, size = await pipe.execute()
        got = dict(zip(fields, values, strict=True))
        if got["version"] is None:
            return None
        published = got["published_at"]
        return ModelInfo(
            version=_str(got["version"]),
            examples_learned=int(_str(got["examples_learned"] or b"0")),
            rolling_auc=_opt_float(got["rolling_auc"]),
            rolling_logloss=_opt_float(got["rolling_logloss"]),
            published_at=datetime.fromisoformat(_str(published)) if published else None,
            snapshot_bytes=int(size),
        )

    async def metrics_history(self, limit: int) -> list[MetricsPoint]:
        """The last ``limit`` points of ``model:history``, oldest first."""
        rows = await self.client.xrevrange(self.keys.model_history, count=limit)
        points = []
        for _id, fields in reversed(rows or []):
            f = {_str(key): _str(value) for key, value in (fields or {}).items()}
            points.append(
                MetricsPoint(
                    event_time=float(f["event_time"]),
                    wall_time=float(f["wall_time"]),
                    auc=_opt_float(f.get("auc")),
                    logloss=_opt_float(f.get("logloss")),
                    examples=int(f.get("examples", 0)),
                    plays_per_second=float(f.get("plays_per_second", 0.0)),
                )
            )
        return points


__all__ = [
    "APPEND_HISTORY_LUA",
    "LOOKUP_LUA",
    "LOOKUP_SHA",
    "NAMES_LUA",
    "NAMES_SHA",
    "USER_ID_PATTERN",
    "WRITE_RECS_LUA",
    "CorruptRecordError",
    "HistoryPlay",
    "ListenerEntry",
    "MetricsPoint",
    "ModelInfo",
    "ModelMetrics",
    "ModelSnapshot",
    "RecItem",
    "RecsKeys",
    "RecsNotFoundError",
    "RecsReader",
    "RecsWriter",
    "StoredRecItem",
    "StoredRecs",
    "TrackInfo",
    "UserRecs",
    "async_client",
    "sync_client",
]
