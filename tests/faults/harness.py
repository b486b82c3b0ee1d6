"""What the fault tests share: a run of real ``encore worker`` processes on real Kafka and
Redis, the replay producer as a process, drain detection from Kafka's committed offsets,
and the comparison of the stream's end state with the offline path over the same plays.

Nothing here is a mock. Every wait polls a condition against a deadline; the only
fixed pauses are the faults themselves (a broker kept down for 15 s).

The end state of a run is read from Kafka, not from the workers: the listener table's
changelog (``<app_id>-listeners-changelog``, compacted; the last value per key wins)
holds every listener's feature state, label state and label counts, and the
`examples` topic holds every example the trainer received.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from cluster import process
from cluster.settings import REPO_ROOT, ClusterSettings
from cluster.topics import ensure_topics
from models.events import PlayEvent
from models.parsers import parse_paths
from models.processor import PlayProcessor
from stream_app.examples_wire import decode_examples
from stream_app.fleet import Fleet, RunNamespace, totals, wait_for_workers
from stream_app.listening import decode_state
from stream_app.recs_store import RecsWriter
from stream_app.trainer_loop import trainer_group

#: The bundled real dataset (sorted by time; user, item, seconds since start).
LASTFM = REPO_ROOT.parent / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"

ENCORE = str(Path(sys.executable).with_name("encore"))


# --------------------------------------------------------------------------- waiting


def wait_for(
    condition: Callable[[], bool],
    deadline_s: float,
    what: str,
    *,
    interval: float = 0.2,
    abort: Callable[[], str | None] | None = None,
) -> float:
    """Poll ``condition`` until true; return the seconds it took, or fail saying ``what``.

    ``abort`` is checked every round: a reason it returns (a worker died) fails at once.
    """
    start = time.monotonic()
    while not condition():
        if abort is not None and (reason := abort()):
            raise AssertionError(f"while waiting for {what}: {reason}")
        if time.monotonic() - start > deadline_s:
            raise AssertionError(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- data


def lastfm_slice(n: int, directory: Path) -> tuple[Path, list[PlayEvent]]:
    """The first ``n`` plays of the bundled Last.fm file as a file of their own, and the
    plays `encore replay` will send from it (parsed by the same parser, event-time order)."""
    if not LASTFM.is_file():
        raise AssertionError(f"the bundled dataset {LASTFM} is missing")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"lastfm-first-{n}.tsv"
    with gzip.open(LASTFM, "rt") as src, path.open("w") as dst:
        for i, line in enumerate(src):
            if i == n:
                break
            dst.write(line)
    plays = sorted(parse_paths([path]).events, key=lambda p: p.played_at)
    assert len(plays) == n
    return path, plays


def speed_for(plays: Sequence[PlayEvent], seconds: float) -> float:
    """The `encore replay --speed` that spreads ``plays`` over about ``seconds``."""
    return max((plays[-1].ts - plays[0].ts) / seconds, 1.0)


# --------------------------------------------------------------------------- a run


def cluster_env(settings: ClusterSettings) -> dict[str, str]:
    """Environment that points an encore process at ``settings``' Kafka and Redis."""
    return {
        "ENCORE_HOST": settings.host,
        "ENCORE_KAFKA_PORT": str(settings.kafka_port),
        "ENCORE_KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
        "ENCORE_REDIS_PORT": str(settings.redis_port),
        "ENCORE_LOCAL_DIR": str(settings.local_dir),
    }


#: Faust settings of the test workers: a worker killed with SIGKILL is noticed by the
#: group coordinator after this session timeout (Faust's default is 60 s).
FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}


@dataclass(kw_only=True)
class Run:
    """One run's namespace (topics, consumer group, Redis prefix) and its workers."""

    base: ClusterSettings
    namespace: RunNamespace
    settings: ClusterSettings
    fleet: Fleet
    writer: RecsWriter
    env: dict[str, str]
    directory: Path
    replays: list[subprocess.Popen[bytes]] = field(default_factory=list)
    apis: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: Workers this test killed on purpose (and has not restarted yet).
    killed: set[int] = field(default_factory=set)

    @property
    def app_id(self) -> str:
        return self.namespace.env()["ENCORE_APP_ID"]

    @property
    def changelog_topic(self) -> str:
        return f"{self.app_id}-listeners-changelog"

    def worker_log(self, i: int) -> str:
        path = self.fleet.log_dir / f"worker-{i}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_workers(self, n: int) -> None:
        """Start ``n`` workers and wait until each has said in Redis that it is up."""
        self.fleet.start(n)
        wait_for_workers(self.writer, n, self.fleet, timeout=90)

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i`` (no clean shutdown, no final commit)."""
        self.killed.add(i)
        self.fleet.kill(i, signal.SIGKILL)

    def restart(self, i: int) -> None:
        self.fleet.restart(i)
        self.killed.discard(i)

    def died(self) -> str | None:
        """A reason when a worker that should run has exited."""
        for i, alive in enumerate(self.fleet.alive()):
            if not alive and i not in self.killed:
                return f"worker {i} exited ({self.fleet.procs[i].returncode}):\n{self.worker_log(i)[-3000:]}"
        return None

    def start_replay(self, path: Path, *, speed: float | None) -> subprocess.Popen[bytes]:
        """`encore replay` as a process (the real producer), its output in the run's folder."""
        args = [ENCORE, "replay", str(path), "--json"]
        args += ["--max"] if speed is None else ["--speed", f"{speed:.3f}"]
        out = (self.directory / f"replay-{len(self.replays)}.out").open("wb")
        proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.replays.append(proc)
        return proc

    def start_api(self) -> tuple[subprocess.Popen[bytes], str]:
        """`encore api` on a free port against this run's Redis prefix; (process, base URL)."""
        port = free_port()
        out = (self.directory / "api.out").open("wb")
        proc = subprocess.Popen(
            [ENCORE, "api", "--port", str(port), "--log-level", "warning"],
            env=self.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.apis.append(proc)  # stopped with the run
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"encore api exited: {(self.directory / 'api.out').read_text()}")
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 30, "encore api to answer /healthz")
        return proc, url

    def replay_output(self, i: int = 0) -> str:
        return (self.directory / f"replay-{i}.out").read_text(errors="replace")

    def replay_summary(self, i: int = 0) -> dict[str, Any]:
        """The JSON line `encore replay --json` printed."""
        for line in reversed(self.replay_output(i).splitlines()):
            if line.startswith("{"):
                return dict(orjson.loads(line))
        raise AssertionError(f"encore replay printed no summary:\n{self.replay_output(i)[-3000:]}")

    def progress(self) -> int:
        """Plays the workers have taken so far (their published counters; may count a
        play twice after a crash, so only for deciding *when* to strike)."""
        now = totals(self.writer)
        return now.plays + now.dead_letters

    def worker_of_trainer(self) -> int | None:
        """Index of the live worker that runs the trainer (it says so in its counters)."""
        stats = self.writer.worker_stats()
        for name, figures in stats.items():
            if figures.get("trains") == 1 and "trainer_examples" in figures:
                pid = int(name.rsplit("-", 1)[1])
                if pid in self.fleet.pids():
                    return self.fleet.pids().index(pid)
        return None


def _delete_topics(settings: ClusterSettings, prefixes: Sequence[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=10_000)
    try:
        doomed = [t for t in admin.list_topics() if any(t.startswith(p) for p in prefixes)]
        if doomed:
            admin.delete_topics(doomed, raise_errors=False)
    finally:
        admin.close()


@contextlib.contextmanager
def stream_run(
    base: ClusterSettings, label: str, directory: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[Run]:
    """A fresh namespace on ``base``'s Kafka and Redis, workers not yet started.

    Afterwards: workers and replays stopped, the run's topics and Redis keys removed.
    """
    namespace = RunNamespace.fresh(f"fault-{label}")
    settings = namespace.settings(base)
    ensure_topics(settings)
    own = cluster_env(base)
    # A key of this run's own: the test never touches the developer's snapshot key.
    own["ENCORE_SNAPSHOT_KEY"] = uuid.uuid4().hex
    own.update(FAST_FAILOVER)
    # A worker stuck after a rebalance shows where in Faust's recovery it stopped, and
    # each seed of the plays agent's offset record is in the log.
    own["ENCORE_REBALANCE_LOG_LEVEL"] = "info"
    own["COLUMNS"] = "200"
    own.update(extra_env or {})
    env = {**os.environ, **namespace.env(), **own}
    directory.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(namespace=namespace, log_dir=directory / "workers", extra_env=own)
    writer = RecsWriter.from_settings(settings)
    run = Run(
        base=base, namespace=namespace, settings=settings, fleet=fleet, writer=writer,
        env=env, directory=directory,
    )  # fmt: skip
    try:
        yield run
    finally:
        for proc in run.replays:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        for proc in run.apis:  # SIGTERM: granian stops its worker processes with it
            process.stop(proc.pid, 15.0)
        fleet.stop(timeout=15.0)
        with contextlib.suppress(Exception):
            _delete_topics(base, [settings.plays_topic, settings.dlq_topic, settings.examples_topic,
                                  settings.snapshots_topic, run.app_id])  # fmt: skip
        with contextlib.suppress(Exception):
            keys = list(writer.client.scan_iter(match=settings.redis_prefix + "*", count=1000))
            for i in range(0, len(keys), 1000):
                writer.client.delete(*keys[i : i + 1000])
        writer.client.close()


# --------------------------------------------------------------------------- Kafka reads


def _consumer(settings: ClusterSettings, group: str | None = None) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=10_000,
    )


def partitions_of(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(parts)]


def group_offsets(run: Run, topic: str) -> tuple[int, int] | None:
    """(messages of ``topic`` the run's consumer group has committed, messages in it),
    summed over partitions; None while Kafka cannot say. `examples` is read by the
    trainer's own group (:func:`stream_app.trainer_loop.trainer_group`)."""
    group = trainer_group(run.app_id) if topic == run.settings.examples_topic else run.app_id
    try:
        consumer = _consumer(run.settings, group)
    except Exception:
        return None
    try:
        parts = partitions_of(consumer, topic)
        if not parts:
            return None
        ends = consumer.end_offsets(parts)
        committed = {tp: consumer.committed(tp) or 0 for tp in parts}
        return sum(committed.values()), sum(ends.values())
    except Exception:
        return None
    finally:
        consumer.close()


def lag(run: Run, topic: str) -> int | None:
    """Messages of ``topic`` the run's consumer group has not committed yet."""
    offsets = group_offsets(run, topic)
    return None if offsets is None else offsets[1] - offsets[0]


def wait_drained(run: Run, *, messages: int, deadline_s: float) -> float:
    """Until every `plays` message and every example is committed by the consumer group,
    and the workers have published counters for at least ``messages`` messages.

    Faust flushes its producer (changelog, examples, dead letters) before it commits,
    so a committed offset means everything that message caused is in Kafka.
    """

    def drained() -> bool:
        if run.progress() < messages:
            return False
        return lag(run, run.settings.plays_topic) == 0 and lag(run, run.settings.examples_topic) == 0

    return wait_for(drained, deadline_s, "the stream to drain", interval=0.5, abort=run.died)


def read_topic(settings: ClusterSettings, topic: str, deadline_s: float = 60.0) -> list[tuple[Any, ...]]:
    """Every message of ``topic`` up to its current end: (partition, offset, key, value)."""
    consumer = _consumer(settings)
    try:
        parts = partitions_of(consumer, topic)
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list[tuple[Any, ...]] = []
        deadline = time.monotonic() + deadline_s
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(out)} messages of {topic}; its end not reached in time")
            for tp, batch in consumer.poll(timeout_ms=500, max_records=50_000).items():
                out.extend((tp.partition, m.offset, m.key, m.value) for m in batch if m.offset < ends[tp])
        return out
    finally:
        consumer.close()


# --------------------------------------------------------------------------- end states


@dataclass(kw_only=True)
class ListenerEnd:
    """One listener's state at the end of a run."""

    features: dict[str, Any]
    #: Event ids of plays still waiting for their label.
    pending: set[str]
    positive: int
    negative: int


def stream_end_state(run: Run) -> dict[str, ListenerEnd]:
    """Each listener's last table value, from the changelog."""
    last: dict[str, bytes] = {}
    for _p, _o, key, value in read_topic(run.settings, run.changelog_topic):
        if value is None:
            last.pop(key.decode(), None)
        else:
            last[key.decode()] = value
    out: dict[str, ListenerEnd] = {}
    for user, raw in last.items():
        features, labels, counts = decode_state(raw)
        pending = {eid for plays in (labels.pending.values() if labels else []) for _ts, eid, _f in plays}
        out[user] = ListenerEnd(
            features=features.to_dict(),
            pending=pending,
            positive=counts.get("positive", 0),
            negative=counts.get("negative", 0),
        )
    return out


@dataclass(kw_only=True)
class OfflineEnd:
    """``encore evaluate``'s path (PlayProcessor over the plays in event-time order)."""

    features: dict[str, dict[str, Any]]
    #: event id -> label, for every play whose label resolved.
    labels: dict[str, bool]
    #: listener -> event ids of its counted, on-time plays (those that get a label).
    counted: dict[str, set[str]]
    #: event id -> play time, of every counted play.
    ts: dict[str, float]
    kinds: Counter[str]


def offline_end_state(plays: Sequence[PlayEvent], *, arrival_order: bool = False) -> OfflineEnd:
    """The offline path over ``plays``: in event-time order (as ``encore evaluate`` and
    ``encore replay`` order them), or as given (``arrival_order``: plays sent in that
    order, each listener's in the order its partition delivers them)."""
    proc = PlayProcessor()
    labels: dict[str, bool] = {}
    counted: dict[str, set[str]] = defaultdict(set)
    ts: dict[str, float] = {}
    ordered = list(plays) if arrival_order else sorted(plays, key=lambda p: p.played_at)
    for play in ordered:
        out = proc.process(play)
        if out.features is not None and not out.late:
            counted[play.user_id].add(play.event_id)
            ts[play.event_id] = play.ts
        for ex in out.examples:
            assert ex.event_id not in labels
            labels[ex.event_id] = ex.label
    return OfflineEnd(
        features={u: s.to_dict() for u, s in proc.features.items()},
        labels=labels,
        counted=dict(counted),
        ts=ts,
        kinds=Counter(proc.counts),
    )


@dataclass(kw_only=True)
class Comparison:
    listeners: int
    plays_counted: int
    #: Labels resolved in the stream (the comparable subset), and how many were positive.
    resolved: int
    positive: int
    #: Plays still waiting in the stream whose label resolved offline (a slower watermark).
    pending_in_stream_only: int
    problems: list[str]


def compare(stream: dict[str, ListenerEnd], offline: OfflineEnd) -> Comparison:
    """Features exactly equal; label counts equal over the plays whose label resolved in
    the stream (everything counted, minus what the stream still has pending)."""
    problems: list[str] = []
    if set(stream) != set(offline.features):
        problems.append(
            f"listeners differ: only in stream {sorted(set(stream) - set(offline.features))[:10]}, "
            f"only offline {sorted(set(offline.features) - set(stream))[:10]}"
        )
    resolved = positive = pending_only = 0
    for user in sorted(set(stream) & set(offline.features)):
        s, f = stream[user], offline.features[user]
        if s.features != f:
            diff = [k for k in f if s.features.get(k) != f[k]]
            problems.append(
                f"listener {user}: feature state differs in {diff} "
                f"(n_plays stream {s.features['n_plays']} offline {f['n_plays']})"
            )
        counted = offline.counted.get(user, set())
        stray = s.pending - counted
        if stray:
            problems.append(f"listener {user}: {len(stray)} pending plays the offline path never counted")
        done = counted - s.pending
        unknown = [e for e in done if e not in offline.labels]
        if unknown:
            problems.append(
                f"listener {user}: {len(unknown)} plays resolved in the stream but not offline "
                "(the stream's watermark ran ahead of the offline one)"
            )
        want_pos = sum(1 for e in done if offline.labels.get(e) is True)
        want_neg = sum(1 for e in done if offline.labels.get(e) is False)
        if (s.positive, s.negative) != (want_pos, want_neg):
            problems.append(
                f"listener {user}: label counts +{s.positive}/-{s.negative} in the stream, "
                f"+{want_pos}/-{want_neg} offline over the same resolved plays"
            )
        resolved += s.positive + s.negative
        positive += s.positive
        pending_only += sum(1 for e in s.pending if e in offline.labels)
    return Comparison(
        listeners=len(stream),
        plays_counted=sum(int(s.features["n_plays"]) for s in stream.values()),
        resolved=resolved,
        positive=positive,
        pending_in_stream_only=pending_only,
        problems=problems,
    )


@dataclass(kw_only=True)
class ExamplesSeen:
    messages: int
    distinct: int
    duplicates: int
    wrong_label: list[str]
    #: Distinct examples whose two deliveries disagree on the label.
    inconsistent: list[str]


def examples_on_topic(run: Run, offline: OfflineEnd) -> tuple[dict[str, bool], ExamplesSeen]:
    """Every example the trainer was sent (event id -> label), checked against offline."""
    labels: dict[str, bool] = {}
    n = 0
    inconsistent: list[str] = []
    for _p, _o, _k, value in read_topic(run.settings, run.settings.examples_topic):
        for message in decode_examples(value):
            n += 1
            eid, label = message.example.event_id, message.example.label
            if eid in labels and labels[eid] != label:
                inconsistent.append(eid)
            labels[eid] = label
    wrong = [e for e, label in labels.items() if offline.labels.get(e) is not label]
    seen = ExamplesSeen(
        messages=n, distinct=len(labels), duplicates=n - len(labels), wrong_label=wrong,
        inconsistent=inconsistent,
    )  # fmt: skip
    return labels, seen


def missing_plays(
    run: Run, plays: Sequence[PlayEvent], stream: dict[str, ListenerEnd], offline: OfflineEnd
) -> list[str]:
    """Where the plays a listener's stream state lacks are in Kafka (partition, offset,
    and the group's committed offset there), for the message of a failed comparison.

    A state keeps the last play times of each of its tracks, so a missing play is
    found among the offline plays of a track whose count differs, at a time the
    stream's tally of that track lacks.
    """
    short = {
        u for u, end in stream.items()
        if u in offline.features and end.features["n_plays"] < offline.features[u]["n_plays"]
    }  # fmt: skip
    by_pair: dict[tuple[str, str], list[PlayEvent]] = defaultdict(list)
    for play in plays:
        if play.user_id in short:
            by_pair[play.user_id, play.track_id].append(play)
    wanted: dict[str, PlayEvent] = {}
    for (user, track), pair_plays in by_pair.items():
        tally = stream[user].features["pairs"].get(track)
        n, times = (tally[0], tally[2]) if tally else (0, [])
        if n >= len(pair_plays):
            continue
        kept_from = min(times) if times and n > len(times) else -math.inf
        have = Counter(times)
        for play in sorted(pair_plays, key=lambda p: p.ts):
            if play.ts < kept_from:
                continue
            if have[play.ts]:
                have[play.ts] -= 1
            else:
                wanted[play.event_id] = play
    if not wanted:
        return [f"missing plays of {sorted(short)} are older than their tallies' kept times"] if short else []
    found: dict[str, tuple[int, int]] = {}
    for partition, offset, _key, value in read_topic(run.settings, run.settings.plays_topic):
        with contextlib.suppress(Exception):
            eid = orjson.loads(value).get("event_id")
            if eid in wanted:
                found[eid] = (partition, offset)
    consumer = _consumer(run.settings, run.app_id)
    try:
        parts = partitions_of(consumer, run.settings.plays_topic)
        committed = {tp.partition: consumer.committed(tp) for tp in parts}
    finally:
        consumer.close()
    lines = []
    for eid, play in sorted(wanted.items(), key=lambda kv: found.get(kv[0], (-1, -1))):
        where = found.get(eid)
        at = (
            "not on the topic"
            if where is None
            else f"at plays[{where[0]}]@{where[1]} (committed {committed.get(where[0])})"
        )
        lines.append(f"missing: listener {play.user_id} track {play.track_id} ts {play.ts}: {at}")
    return lines


def assert_same_end_state(
    run: Run, plays: Sequence[PlayEvent], *, arrival_order: bool = False
) -> dict[str, Any]:
    """The whole check of a run against the offline path; returns figures for the report."""
    offline = offline_end_state(plays, arrival_order=arrival_order)
    stream = stream_end_state(run)
    cmp = compare(stream, offline)
    if cmp.problems:
        late = {name: figures.get("late", 0) for name, figures in run.writer.worker_stats().items()}
        where = missing_plays(run, plays, stream, offline)
        # Plays no longer pending in the stream that never became an example there.
        on_topic, _ = examples_on_topic(run, offline)
        for user, end in sorted(stream.items()):
            done = offline.counted.get(user, set()) - end.pending
            for eid in sorted(e for e in done if e not in on_topic)[:5]:
                where.append(
                    f"listener {user}: play at {offline.ts[eid]} (latest {end.features['latest']}), "
                    f"label {offline.labels.get(eid)} offline, never an example in the stream"
                )
        raise AssertionError("\n".join([*cmp.problems[:20], *where, f"late plays per worker: {late}"]))
    # Every play counted exactly once: feature states count them, and agree with offline.
    assert cmp.plays_counted == offline.kinds["play"]
    # The trainer got exactly the examples the table counts: none lost, none extra.
    on_topic, seen = examples_on_topic(run, offline)
    resolved_ids = {e for user, end in stream.items() for e in offline.counted.get(user, set()) - end.pending}
    assert set(on_topic) == resolved_ids, (
        f"examples sent to the trainer: {len(set(on_topic) - resolved_ids)} not counted in the table, "
        f"{len(resolved_ids - set(on_topic))} counted but never sent"
    )
    assert not seen.wrong_label, f"{len(seen.wrong_label)} examples labelled unlike offline"
    assert not seen.inconsistent, f"{len(seen.inconsistent)} examples sent twice with different labels"
    assert cmp.resolved > 0 and cmp.positive > 0  # labels were compared at all
    return {
        # Plays behind their worker's watermark when they arrived (never labelled):
        # none, for plays replayed in event-time order.
        "late": int(sum(s.get("late", 0) for s in run.writer.worker_stats().values())),
        "offline_kinds": dict(offline.kinds),
        "listeners": cmp.listeners,
        "plays": cmp.plays_counted,
        "labels_compared": cmp.resolved,
        "positive": cmp.positive,
        "negative": cmp.resolved - cmp.positive,
        "pending_in_stream_only": cmp.pending_in_stream_only,
        "examples_messages": seen.messages,
        "examples_duplicates": seen.duplicates,
    }


def partitions_line(log: str) -> list[list[int]]:
    """Partition sets a worker's log says it loaded (``partitions [..]: N listeners``)."""
    return [
        [int(x) for x in m.group(1).split(",") if x.strip()]
        for m in re.finditer(r"partitions \[([0-9, ]*)\]: \d+ listeners loaded", log)
    ]
