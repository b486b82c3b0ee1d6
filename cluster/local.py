"""`encore cluster up | down | status` as functions: the same code for the CLI and the tests.

* :func:`up` reuses a Kafka / Redis that already answers on the configured ports,
  starts whichever does not (a stale pid file left by a dead process is removed first),
  waits until Kafka answers a metadata request and Redis answers PING, then creates the
  project's topics. It says, per service, whether it *started* or *reused* it.
* :func:`down` stops only processes named by pid files this package wrote, and only
  while their command line still matches (pids are reused); stale pid files are removed.
* :func:`status` looks without changing anything.

Concurrent ``up``/``down`` calls on one ``local_dir`` take turns (a file lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from cluster import kafka, process, redis, topics
from cluster.kafka import JarFetch
from cluster.settings import ClusterSettings
from cluster.topics import TopicOutcome

Say = Callable[[str], None]
SERVICES = ("kafka", "redis")


def _quiet(_: str) -> None:
    return None


class Action(StrEnum):
    STARTED = "started"
    REUSED = "reused"
    RUNNING = "running"
    DOWN = "down"
    STOPPED = "stopped"
    KILLED = "killed"
    NOT_RUNNING = "not running"
    #: Answers on the port but was not started by encore: `down` leaves it alone.
    LEFT_RUNNING = "left running (not started by encore)"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    up: bool
    pid: int | None
    ports: tuple[int, ...]
    #: True when a pid file written by encore names this (live) process.
    managed: bool
    action: Action
    log: Path | None = None
    #: Seconds from launch until it answered (only when this call started it).
    ready_seconds: float | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterStatus:
    kafka: ServiceStatus
    redis: ServiceStatus
    bootstrap_servers: str
    redis_url: str
    #: Every non-internal topic with its partition count (empty when Kafka is down).
    topics: dict[str, int] = field(default_factory=dict)
    #: What `up` did to each of the project's topics.
    topic_outcomes: dict[str, TopicOutcome] = field(default_factory=dict)
    jar_fetch: JarFetch | None = None
    seconds: float = 0.0

    @property
    def services(self) -> tuple[ServiceStatus, ServiceStatus]:
        return (self.kafka, self.redis)

    @property
    def started(self) -> list[str]:
        """Names of the services this `up` call started (the rest were reused)."""
        return [s.name for s in self.services if s.action is Action.STARTED]


@dataclass(frozen=True)
class _Service:
    """What up/down/status need to know about one kind of process."""

    name: str
    pid_file: Path
    markers: tuple[str, ...]
    ports: tuple[int, ...]
    log: Path
    answers: Callable[[], bool]


def _services(settings: ClusterSettings) -> dict[str, _Service]:
    kp, rp = kafka.KafkaPaths.of(settings), redis.RedisPaths.of(settings)
    return {
        "kafka": _Service(
            "kafka",
            kp.pid,
            kafka.markers(settings),
            (settings.kafka_port, settings.kafka_controller_port),
            kp.out,
            lambda: kafka.answers(settings),
        ),
        "redis": _Service(
            "redis",
            rp.pid,
            redis.markers(settings),
            (settings.redis_port,),
            rp.log,
            lambda: redis.ping(settings),
        ),
    }


@contextlib.contextmanager
def _locked(settings: ClusterSettings, say: Say) -> Iterator[None]:
    settings.local_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.local_dir / "cluster.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another `encore cluster` command to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _drop_stale_pid(svc: _Service) -> str | None:
    """Remove ``svc``'s pid file when it names a dead or foreign process; say so."""
    pid = process.read_pid(svc.pid_file)
    if svc.pid_file.exists() and process.managed_pid(svc.pid_file, svc.markers) is None:
        process.remove_pid(svc.pid_file)
        return f"removed stale pid file ({svc.pid_file.name}: {pid})"
    return None


def _ensure_ports_free(settings: ClusterSettings, svc: _Service) -> None:
    for port in svc.ports:
        if process.port_open(settings.host, port):
            holder = process.listening_pid(port)
            who = f"pid {holder}: {process.cmdline(holder)[:120]}" if holder else "unknown process"
            raise RuntimeError(
                f"port {settings.host}:{port} is taken by something that does not answer "
                f"as {svc.name} ({who}); free it or choose other ports (ENCORE_*_PORT)"
            )


def _failed_early(pid: int, log: Path) -> Callable[[], str | None]:
    def check() -> str | None:
        if process.is_alive(pid):
            return None
        return f"process {pid} exited; last lines of {log}:\n{process.tail(log)}"

    return check


def _wait_ready(settings: ClusterSettings, svc: _Service, pid: int, started: bool) -> float:
    """Wait for a process to answer; on failure stop it if this call started it."""
    t0 = time.monotonic()
    try:
        process.wait_until(
            svc.answers,
            settings.start_timeout_s,
            f"{svc.name} on {settings.host}:{svc.ports[0]}",
            interval=0.25,
            failed=_failed_early(pid, svc.log),
        )
    except TimeoutError as exc:
        if started:
            process.stop(pid, settings.stop_timeout_s, svc.markers)
            process.remove_pid(svc.pid_file)
        raise TimeoutError(f"{exc}; last lines of {svc.log}:\n{process.tail(svc.log)}") from None
    except process.ProcessExited:
        process.remove_pid(svc.pid_file)
        raise
    return time.monotonic() - t0


def _password_note(settings: ClusterSettings) -> list[str]:
    if redis.open_without_password(settings):
        return ["WARNING: a password is set but this Redis answers without it"]
    return []


def _reused(svc: _Service, notes: list[str]) -> ServiceStatus:
    managed = process.managed_pid(svc.pid_file, svc.markers)
    pid = managed or process.listening_pid(svc.ports[0])
    return ServiceStatus(
        svc.name, True, pid, svc.ports, managed is not None, Action.REUSED, svc.log,
        notes=tuple(notes),
    )  # fmt: skip


def up(settings: ClusterSettings | None = None, say: Say = _quiet) -> ClusterStatus:
    """Bring Kafka and Redis up (or reuse them), create the topics; idempotent."""
    settings = settings or ClusterSettings()
    t0 = time.monotonic()
    svcs = _services(settings)
    k, r = svcs["kafka"], svcs["redis"]
    with _locked(settings, say):
        k_notes = [n for n in [_drop_stale_pid(k)] if n]
        r_notes = [n for n in [_drop_stale_pid(r)] if n]

        # Kafka first: the JVM takes seconds to answer, Redis is ready meanwhile.
        jar_fetch: JarFetch | None = None
        k_pid: int | None = None
        k_started = False
        if k.answers():
            kafka_status: ServiceStatus | None = _reused(k, k_notes)
        else:
            kafka_status = None
            k_pid = process.managed_pid(k.pid_file, k.markers)
            if k_pid is not None and not kafka.config_matches(settings):
                raise RuntimeError(
                    f"the broker encore started from {settings.local_dir} (pid {k_pid}) runs "
                    f"with other settings than these (ports?); run `encore cluster down` first"
                )
            if k_pid is None:  # nothing of ours is starting: launch one
                _ensure_ports_free(settings, k)
                jar_fetch = kafka.fetch_jars(settings, say)
                kafka.write_server_properties(settings)
                if kafka.format_storage(settings):
                    say("formatted Kafka storage (KRaft)")
                say("starting Kafka")
                k_pid = kafka.start(settings)
                k_started = True

        if r.answers():
            redis_status = _reused(r, r_notes + _password_note(settings))
        else:
            r_pid = process.managed_pid(r.pid_file, r.markers)
            r_started = r_pid is None
            if r_pid is None:
                _ensure_ports_free(settings, r)
                say("starting Redis")
                r_pid = redis.start(settings)
            secs = _wait_ready(settings, r, r_pid, r_started)
            redis_status = ServiceStatus(
                "redis", True, r_pid, r.ports, True,
                Action.STARTED if r_started else Action.REUSED, r.log,
                secs if r_started else None, tuple(r_notes),
            )  # fmt: skip

        if kafka_status is None:
            assert k_pid is not None
            say("waiting for Kafka to answer")
            secs = _wait_ready(settings, k, k_pid, k_started)
            kafka_status = ServiceStatus(
                "kafka", True, k_pid, k.ports, True,
                Action.STARTED if k_started else Action.REUSED, k.log,
                secs if k_started else None, tuple(k_notes),
            )  # fmt: skip

        say("creating topics")
        outcomes = topics.ensure_topics(settings)
        listed = topics.list_topics(settings)
    return ClusterStatus(
        kafka=kafka_status,
        redis=redis_status,
        bootstrap_servers=settings.bootstrap_servers,
        redis_url=settings.redis_url,
        topics=listed,
        topic_outcomes=outcomes,
        jar_fetch=jar_fetch,
        seconds=time.monotonic() - t0,
    )


def down(
    settings: ClusterSettings | None = None,
    services: Iterable[str] = SERVICES,
    say: Say = _quiet,
) -> list[ServiceStatus]:
    """Stop the processes encore started (pid files); leave anything else running."""
    settings = settings or ClusterSettings()
    svcs = _services(settings)
    result: list[ServiceStatus] = []
    with _locked(settings, say):
        for name in services:
            svc = svcs[name]
            notes: list[str] = []
            pid = process.managed_pid(svc.pid_file, svc.markers)
            action = Action.NOT_RUNNING
            if pid is not None:
                say(f"stopping {name} (pid {pid})")
                outcome = process.stop(pid, settings.stop_timeout_s, svc.markers)
                action = Action.KILLED if outcome == "killed" else Action.STOPPED
                if outcome == "killed":
                    notes.append(f"did not exit within {settings.stop_timeout_s:g} s of SIGTERM")
                process.remove_pid(svc.pid_file)
            else:
                stale = _drop_stale_pid(svc)
                if stale:
                    notes.append(stale)
                if process.port_open(settings.host, svc.ports[0]):
                    action = Action.LEFT_RUNNING
            still = action is Action.LEFT_RUNNING
            result.append(
                ServiceStatus(name, still, pid, svc.ports, pid is not None, action, svc.log,
                              notes=tuple(notes))
            )  # fmt: skip
    return result


def status(settings: ClusterSettings | None = None) -> ClusterStatus:
    """What runs now: each service up/down, its pid, ports, and the topics."""
    settings = settings or ClusterSettings()
    svcs = _services(settings)
    found: dict[str, ServiceStatus] = {}
    for name, svc in svcs.items():
        notes: list[str] = []
        try:
            is_up = svc.answers()
        except redis.RedisAuthError as exc:
            is_up = True
            notes.append(str(exc))
        managed = process.managed_pid(svc.pid_file, svc.markers)
        if managed is None and process.read_pid(svc.pid_file) is not None:
            notes.append(f"stale pid file {svc.pid_file}")
        pid = managed or (process.listening_pid(svc.ports[0]) if is_up else None)
        if is_up and managed is None:
            notes.append("not started by encore")
        if name == "redis" and is_up:
            notes.extend(_password_note(settings))
        found[name] = ServiceStatus(
            name, is_up, pid, svc.ports, managed is not None,
            Action.RUNNING if is_up else Action.DOWN, svc.log, notes=tuple(notes),
        )  # fmt: skip
    listed = topics.list_topics(settings) if found["kafka"].up else {}
    return ClusterStatus(
        kafka=found["kafka"],
        redis=found["redis"],
        bootstrap_servers=settings.bootstrap_servers,
        redis_url=settings.redis_url,
        topics=listed,
    )
