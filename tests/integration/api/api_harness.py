"""Real redis-server, seed data, a live `encore api` and fixtures for the API's integration tests.

Not a conftest.py: tests/integration/conftest.py is another ``conftest`` module without a
package, and two would clash; test modules import the fixtures they use from here.

Each module gets its own redis-server (``--save '' --appendonly no``, a password) on a free
port; tests fill it only through ``stream_app.recs_store.RecsWriter``, the code the scorer
and trainer call. Seed data: the real Spotify exports in ``../shared/data`` when present
(listeners, tracks with names, plays), else a small generated set.
"""

from __future__ import annotations

import functools
import json
import math
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from api.settings import ApiSettings
from cluster import process
from cluster.settings import ClusterSettings
from models.events import PlayEvent, track_key
from stream_app.examples_wire import ExampleMessage
from stream_app.listening import Listening
from stream_app.model_cache import LatestModel
from stream_app.recs_store import MetricsPoint, ModelMetrics, ModelSnapshot, RecsWriter
from stream_app.scorer import Scorer
from stream_app.trainer import Trainer

REPO = Path(__file__).resolve().parents[3]
SHARED_EXPORTS = REPO.parent / "shared" / "data" / "spotify_exports"
PYTHON = sys.executable
PREFIX = "encore:"
SNAPSHOT_KEY = b"api-test-snapshot-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``check`` until it is true; fail with ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except (OSError, redis.exceptions.ConnectionError, httpx.TransportError):
            pass  # not up yet
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not true within {timeout_s} s")
        time.sleep(0.02)


@dataclass
class RedisServer:
    """One redis-server process we own: start, stop (really), start again."""

    workdir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(8))
    proc: subprocess.Popen[bytes] | None = None

    def client(self, password: str | None = "same") -> redis.Redis:
        pw = self.password if password == "same" else password
        return redis.Redis(port=self.port, password=pw, socket_timeout=2)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--requirepass",
                self.password,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        probe = self.client()
        try:
            wait_until(lambda: bool(probe.ping()), 10, f"redis-server PING on {self.port}")
        finally:
            probe.close()

    def stop(self) -> None:
        if self.proc is None:
            return
        process.stop(self.proc.pid, 10.0)
        self.proc = None
        self.log.close()

    def cluster_settings(self, password: str | None = "same") -> ClusterSettings:
        pw = self.password if password == "same" else password
        return ClusterSettings(
            host="127.0.0.1",
            redis_host=None,
            redis_port=self.port,
            redis_password=pw,
            redis_prefix=PREFIX,
        )

    def api_settings(self, **overrides: object) -> ApiSettings:
        password = overrides.pop("redis_password", "same")
        return ApiSettings(cluster=self.cluster_settings(password), **overrides)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- seed data


@dataclass
class Seeded:
    users: list[str]
    #: listener -> their plays (sorted by time)
    plays: dict[str, list[PlayEvent]]
    model_version: str
    examples_learned: int
    snapshot_bytes: int


def _spotify_plays(folder: Path, limit: int) -> list[PlayEvent]:
    """The last ``limit`` music plays of one extended-history export folder."""
    rows: list[dict[str, object]] = []
    for path in sorted(folder.glob("*.json")):
        if "Video" in path.name:
            continue
        rows.extend(json.loads(path.read_text(encoding="utf-8")))
    plays = []
    for row in rows:
        name, artist = row.get("master_metadata_track_name"), row.get("master_metadata_album_artist_name")
        if not (isinstance(name, str) and isinstance(artist, str) and name and artist):
            continue
        ms = row.get("ms_played")
        if not isinstance(ms, int) or ms < 30_000:
            continue
        plays.append(
            PlayEvent(
                user_id=folder.name.removeprefix("ext_"),
                track_id=track_key(artist, name),
                played_at=datetime.fromisoformat(str(row["ts"]).replace("Z", "+00:00")),
                ms_played=ms,
                track_name=name,
                artist_name=artist,
                source="spotify-extended",
            )
        )
    plays.sort(key=lambda p: p.played_at)
    return plays[-limit:]


def _generated_plays(limit: int) -> dict[str, list[PlayEvent]]:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    out: dict[str, list[PlayEvent]] = {}
    for u in range(3):
        user = f"listener{u}"
        out[user] = [
            PlayEvent(
                user_id=user,
                track_id=f"t{(i * (u + 3)) % 40}",
                played_at=t0 + timedelta(hours=7 * i),
                ms_played=180_000,
                track_name=f"Track {(i * (u + 3)) % 40}",
                artist_name=f"Artist {i % 7}",
            )
            for i in range(limit)
        ]
    return out


@functools.cache
def load_seed_plays(limit: int = 3000) -> dict[str, list[PlayEvent]]:
    folders = sorted(SHARED_EXPORTS.glob("ext_*")) if SHARED_EXPORTS.is_dir() else []
    by_user = {f.name.removeprefix("ext_"): _spotify_plays(f, limit) for f in folders}
    by_user = {u: p for u, p in by_user.items() if p}
    return by_user or _generated_plays(min(limit, 400))


def seed(writer: RecsWriter, *, per_user_plays: int = 600, chunk: int = 200) -> Seeded:
    """Fill Redis with the stream app's own code, in-process: the listener state and
    labels (`Listening`), the trainer, a signed snapshot loaded by `LatestModel`, and
    the scorer's top-K lists, all written through `RecsWriter` as the workers do."""
    by_user = load_seed_plays(per_user_plays)
    merged = sorted((p for ps in by_user.values() for p in ps), key=lambda p: p.played_at)
    listening = Listening(table={})
    trainer = Trainer(learn_batch=1)
    scorer = Scorer(debounce_s=0.0, top_k=20)
    for start in range(0, len(merged), chunk):
        batch = merged[start : start + chunk]
        began = time.perf_counter()
        out = listening.process(batch)
        trainer.take(
            [
                ExampleMessage(example=e, p=None, model_version=None, watermark=listening.watermark)
                for e in out.examples
            ]
        )
        for play, _ in out.counted:
            scorer.source.observe(play)
        writer.append_plays(batch)
        elapsed = max(time.perf_counter() - began, 1e-6)
        writer.record_metrics(
            MetricsPoint(
                event_time=batch[-1].played_at.timestamp(),
                wall_time=time.time(),
                auc=trainer.rolling_auc,
                logloss=trainer.rolling_logloss,
                examples=trainer.learner.n_learnt,
                plays_per_second=len(batch) / elapsed,
            )
        )
    # The end of the data: every horizon closes, so the model learns everything.
    trainer.take([])
    trainer.learner.close(math.inf)
    trainer.learner.flush()
    snap = trainer.snapshot(SNAPSHOT_KEY)
    writer.publish_model(
        ModelSnapshot.of_blob(snap.version, snap.blob),
        ModelMetrics(examples_learned=snap.examples_learned, rolling_auc=trainer.rolling_auc),
    )
    model = LatestModel(key=SNAPSHOT_KEY, read=writer.read_model_snapshot, peek_version=writer.model_version)
    assert model.refresh(), "the scorer's model must load the trainer's snapshot"
    users = sorted(by_user)
    as_of = max(p.ts for p in merged)
    writer.write_recommendations(scorer.score(users, listening.features, model, as_of=as_of))
    return Seeded(
        users=users,
        plays=by_user,
        model_version=snap.version,
        examples_learned=snap.examples_learned,
        snapshot_bytes=len(snap.blob),
    )


# --------------------------------------------------------------------------- live API


@dataclass
class LiveApi:
    base_url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def start_live_api(
    server: RedisServer, workdir: Path, *, api_key: str | None = None, refresh_s: float = 1.0
) -> LiveApi:
    """``encore api`` (granian) in its own process, configured only through ENCORE_ env."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENCORE_")}
    env.update(
        ENCORE_HOST="127.0.0.1",
        ENCORE_REDIS_PORT=str(server.port),
        ENCORE_REDIS_PASSWORD=server.password,
        ENCORE_REDIS_PREFIX=PREFIX,
        ENCORE_PAGE_REFRESH_S=str(refresh_s),
    )
    if api_key:
        env["ENCORE_API_KEY"] = api_key
    log_path = workdir / f"api-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "cli.main",
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    api = LiveApi(f"http://127.0.0.1:{port}", proc, log_path)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"encore api exited: {api.log()}")
        return httpx.get(f"{api.base_url}/healthz", timeout=1).status_code == 200

    try:
        wait_until(up, 20, "encore api /healthz")
    except BaseException:
        stop_live_api(api)
        raise
    return api


def stop_live_api(api: LiveApi) -> None:
    process.stop(api.proc.pid, 10.0)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client to check what Redis holds; the database is emptied per test."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def writer(redis_server: RedisServer, raw: redis.Redis) -> Iterator[RecsWriter]:
    w = RecsWriter.from_settings(redis_server.cluster_settings(), history_len=100)
    yield w
    w.client.close()


@pytest.fixture
def seeded(writer: RecsWriter) -> Seeded:
    return seed(writer)
