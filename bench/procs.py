"""Worker processes for the benchmarks: start them, watch their counters, sample them.

The real workers are ``encore worker`` (:class:`stream_app.fleet.Fleet`); the ceiling
is :mod:`bench.bare_agent`. Both publish their counters to the run's ``workers`` hash
in Redis, so one poller measures both alike.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import cpu_seconds
from cluster.settings import REPO_ROOT, ClusterSettings
from stream_app.fleet import Fleet, RunNamespace, Totals, totals
from stream_app.recs_store import RecsWriter


def start_fleet(
    kind: str, ns: RunNamespace, n: int, log_dir: Path, extra_env: dict[str, str] | None = None
) -> Fleet:
    """``n`` workers of ``kind`` (``app``: encore worker; ``bare``: the bare agent)."""
    fleet = Fleet(namespace=ns, log_dir=log_dir, extra_env=extra_env or {})
    if kind == "app":
        fleet.start(n)
        return fleet
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(ns.env())
    env.update(extra_env or {})
    for i in range(n):
        log = (log_dir / f"bare-{i}.log").open("ab")
        cmd = [sys.executable, "-m", "bench.bare_agent", "worker", "-l", "warn", "--without-web"]
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
        fleet.procs.append(proc)
    return fleet


@dataclass
class CpuMark:
    at: float
    plays: int
    cpu: dict[str, float]


def cpu_mark(pids: dict[str, int | None], plays: int) -> CpuMark:
    return CpuMark(time.time(), plays, {name: cpu_seconds(pid) for name, pid in pids.items() if pid})


@dataclass(kw_only=True)
class Window:
    """A measured window of a stream run: from every worker consuming to the end."""

    start: CpuMark
    plays_done_at: float
    plays_done: int
    drained_at: float | None
    end: CpuMark
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def plays(self) -> int:
        return self.plays_done - self.start.plays

    @property
    def rate(self) -> float:
        return self.plays / max(self.plays_done_at - self.start.at, 1e-9)

    @property
    def drained_rate(self) -> float | None:
        if self.drained_at is None:
            return None
        return self.plays / max(self.drained_at - self.start.at, 1e-9)

    def cpu_by(self) -> dict[str, float]:
        return {k: self.end.cpu.get(k, 0.0) - v for k, v in self.start.cpu.items()}

    @property
    def cpu_per_1000(self) -> float:
        return sum(self.cpu_by().values()) / max(self.plays, 1) * 1000


def measure_window(
    writer: RecsWriter,
    fleet: Fleet,
    *,
    n_workers: int,
    messages: int,
    pids: dict[str, int | None],
    wait_drain: bool,
    timeout: float = 600.0,
    poll: float = 0.2,
    stall_s: float = 60.0,
) -> Window:
    """Poll the workers' counters: the window opens when every one of ``n_workers``
    has taken plays (the group's final assignment is in force) and closes when all
    ``messages`` are taken (and, with ``wait_drain``, learnt and scored)."""
    deadline = time.monotonic() + timeout
    start: CpuMark | None = None
    plays_done: tuple[float, int] | None = None
    now: Totals | None = None
    progress = (time.monotonic(), -1)
    drain_progress: tuple[float, tuple[int, int]] = (time.monotonic(), (-1, -1))
    while True:
        if not all(fleet.alive()):
            raise RuntimeError(f"a worker exited; see {fleet.log_dir}")
        if time.monotonic() > deadline:
            got = now.plays if now else 0
            raise TimeoutError(
                f"stream run not done within {timeout:.0f} s ({got}/{messages}); {fleet.log_dir}"
            )
        now = totals(writer)
        taken = now.plays + now.dead_letters
        if taken != progress[1]:
            progress = (time.monotonic(), taken)
        elif start is not None and plays_done is None and time.monotonic() - progress[0] > stall_s:
            # A crashed agent can leave its worker alive and idle (DESIGN.md): say so.
            raise RuntimeError(
                f"no play taken for {stall_s:.0f} s at {taken}/{messages}; see {fleet.log_dir}"
            )
        if start is None:
            active = [s for s in now.raw.values() if s.get("plays", 0) > 0]
            if len(active) >= n_workers:
                start = cpu_mark(pids | _worker_pids(fleet), taken)
        if start is not None and plays_done is None and taken >= messages:
            plays_done = (now.last_play_ms / 1000.0, taken)
            if not wait_drain:
                end = cpu_mark(pids | _worker_pids(fleet), taken)
                return Window(start=start, plays_done_at=plays_done[0], plays_done=taken, drained_at=None,
                              end=end, stats=now.raw)  # fmt: skip
        if plays_done is not None and now.trainer_examples >= now.examples and now.scoring_queue == 0:
            end = cpu_mark(pids | _worker_pids(fleet), taken)
            return Window(start=start, plays_done_at=plays_done[0], plays_done=plays_done[1],  # type: ignore[arg-type]
                          drained_at=now.last_update_ms / 1000.0, end=end, stats=now.raw)  # fmt: skip
        if plays_done is not None:
            drain = (now.trainer_examples, now.scoring_queue)
            if drain != drain_progress[1]:
                drain_progress = (time.monotonic(), drain)
            elif time.monotonic() - drain_progress[0] > stall_s:
                # Every play was taken but the trainer or scorer stopped moving (an agent
                # crashed and left its worker alive): keep the plays figures, say so.
                end = cpu_mark(pids | _worker_pids(fleet), taken)
                stats = dict(now.raw)
                stats["_stalled"] = {"trainer_examples": now.trainer_examples, "examples": now.examples,
                                     "scoring_queue": now.scoring_queue}  # fmt: skip
                return Window(start=start, plays_done_at=plays_done[0], plays_done=plays_done[1],  # type: ignore[arg-type]
                              drained_at=None, end=end, stats=stats)  # fmt: skip
        time.sleep(poll)


def _worker_pids(fleet: Fleet) -> dict[str, int | None]:
    return {f"worker{i}": pid for i, pid in enumerate(fleet.pids())}


# --------------------------------------------------------------------------- py-spy


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def py_spy() -> str | None:
    """The py-spy binary (PATH, ``BENCH_PY_SPY``, or /tmp/pyspy/bin), if there is one."""
    for cand in (os.environ.get("BENCH_PY_SPY"), shutil.which("py-spy"), "/tmp/pyspy/bin/py-spy"):
        if cand and Path(cand).exists():
            return cand
    return None


def spy_start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = py_spy()
    if exe is None:
        return None
    cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50",
           "--format", "raw", "--output", str(out), "--nonblocking"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def spy_summary(path: Path, top: int = 15) -> dict[str, Any]:
    """Own-time and inclusive shares per function from py-spy's collapsed stacks."""
    if not path.exists():
        return {}
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        try:
            n = int(count)
        except ValueError:
            continue
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return {}
    return {
        "samples": total,
        "own": [{"function": f, "share": round(c / total, 3)} for f, c in own.most_common(top)],
        "inclusive": [
            {"function": f, "share": round(c / total, 3)}
            for f, c in incl.most_common(60)
            if any(k in f for k in _OURS)
        ][:top],
    }


_OURS = ("stream_app", "models/", "faust", "aiokafka", "redis", "river", "pydantic")


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (to/file.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = Path(path).parts
    return f"{name} ({'/'.join(parts[-2:])})"


def base_env() -> dict[str, str]:
    return {"PYTHONPATH": str(REPO_ROOT)}


def settings_for(ns: RunNamespace) -> ClusterSettings:
    return ns.settings(ClusterSettings())
