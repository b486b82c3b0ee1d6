"""What every benchmark shares: result rows, the JSON file, the table, the gate, /proc.

A benchmark returns a :class:`Result`: rows of *figure beside a baseline measured in
the same run*, with the ratio, the target and pass/fail. :func:`save` adds the date,
the machine and the git commit, compares each row with the previous file of the same
benchmark (the gate: the **ratio** is compared, because absolute figures swing with
whatever else the shared machine runs) and writes ``bench/results/<name>.json``.

>>> row = Row(key="x", figure="plays/s", value=50.0, baseline="ceiling", baseline_value=100.0,
...           target=">= 0.50", passed=True)
>>> row.ratio
0.5
>>> gate([row], [{"key": "x", "ratio": 0.8}], tolerance=0.15)[0]["regression"]
True
>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cluster.settings import REPO_ROOT, ClusterSettings

#: Where result files go; ``encore bench --snapshot`` points a snapshot's run back at
#: the checkout's folder.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or REPO_ROOT / "bench" / "results")
#: The bundled real dataset (../shared/data beside the repo).
LASTFM = Path(
    os.environ.get("BENCH_LASTFM") or REPO_ROOT.parent / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"
)
#: A row whose ratio moved against it by more than this since the last result is flagged.
DEFAULT_TOLERANCE = 0.15

#: Wide enough for the result tables when the output is a file or a pipe.
console = Console(width=None if Console().is_terminal else 160)


# --------------------------------------------------------------------------- rows


@dataclass(kw_only=True)
class Row:
    """One figure beside its same-run baseline.

    ``ratio`` defaults to value / baseline_value. ``higher_is_better`` says which way
    of the ratio (or of the value, when there is no baseline) is an improvement.
    """

    key: str
    figure: str
    value: float | None
    unit: str = ""
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    passed: bool | None = None
    higher_is_better: bool = True
    note: str | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.value is not None and self.baseline_value:
            self.ratio = self.value / self.baseline_value


@dataclass(kw_only=True)
class Result:
    name: str
    parameters: dict[str, Any]
    rows: list[Row]
    #: Every raw figure measured (repetitions, series...), for the record.
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    """nproc, memory, CPU model, load, versions: what the figures were measured on."""
    mem_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_1m": round(load[0], 2),
    }


def git_commit() -> dict[str, Any]:
    if os.environ.get("BENCH_COMMIT"):  # a `--snapshot` run: exactly that commit's files
        return {"commit": os.environ["BENCH_COMMIT"][:12], "dirty": False}

    def run(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": run("rev-parse", "HEAD")[:12], "dirty": bool(run("status", "--porcelain", "-uno"))}


# --------------------------------------------------------------------------- results file


def result_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def load_last(name: str) -> dict[str, Any] | None:
    path = result_path(name)
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


def gate(rows: Sequence[Row], last_rows: Sequence[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    """Each row against the same row of the last result: change of its ratio (or of its
    value when it has no baseline) and whether it moved the wrong way by more than
    ``tolerance``."""
    last = {r["key"]: r for r in last_rows}
    out: list[dict[str, Any]] = []
    for row in rows:
        prev = last.get(row.key)
        if prev is None:
            continue
        basis = "ratio" if row.ratio is not None and prev.get("ratio") is not None else "value"
        now = row.ratio if basis == "ratio" else row.value
        then = prev.get(basis)
        if now is None or then in (None, 0):
            continue
        change = now / then - 1.0
        worse = -change if row.higher_is_better else change
        out.append(
            {
                "key": row.key,
                "basis": basis,
                "last": then,
                "now": now,
                "change": round(change, 4),
                "regression": worse > tolerance,
            }
        )
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def save(result: Result, *, started: float, tolerance: float = DEFAULT_TOLERANCE) -> dict[str, Any]:
    """Write ``bench/results/<name>.json`` (with the gate against the previous file)."""
    last = load_last(result.name)
    vs_last = gate(result.rows, last.get("rows", []) if last else [], tolerance)
    doc = {
        "name": result.name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": machine(),
        "git": git_commit(),
        "parameters": result.parameters,
        "rows": [asdict(r) for r in result.rows],
        "passed": all(r.passed for r in result.rows if r.passed is not None),
        "vs_last": {
            "date": last.get("date") if last else None,
            "commit": (last.get("git") or {}).get("commit") if last else None,
            "tolerance": tolerance,
            "same_parameters": (last.get("parameters") == _clean(result.parameters)) if last else None,
            "rows": vs_last,
            "regressions": [g["key"] for g in vs_last if g["regression"]],
        },
        "notes": result.notes,
        "figures": result.figures,
    }
    doc = _clean(doc)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result_path(result.name).write_text(json.dumps(doc, indent=2) + "\n")
    return doc


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    mag = abs(value)
    if mag >= 1000:
        text = f"{value:,.0f}"
    elif mag >= 100:
        text = f"{value:.0f}"
    elif mag >= 10:
        text = f"{value:.1f}"
    elif mag >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "—"}[passed]


def print_result(doc: dict[str, Any]) -> None:
    """The rich table of one result file's rows, with the change since the last result."""
    changes = {g["key"]: g for g in doc["vs_last"]["rows"]}
    last_date = doc["vs_last"]["date"]
    table = Table(
        title=f"bench {doc['name']} — {doc['date']} — {doc['machine']['nproc']} cores, "
        f"commit {doc['git']['commit']}{' (dirty)' if doc['git']['dirty'] else ''}",
        title_justify="left",
    )
    for col, just in (
        ("figure", "left"),
        ("value", "right"),
        ("baseline (same run)", "left"),
        ("ratio", "right"),
        ("target", "left"),
        ("pass", "center"),
        (f"vs last ({last_date[:10] if last_date else 'none'})", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in doc["rows"]:
        base = f"{r['baseline']}: {fmt(r['baseline_value'], r['unit'])}" if r["baseline"] else "—"
        g = changes.get(r["key"])
        change = "—"
        if g:
            change = f"{g['change'] * 100:+.0f}% ({g['basis']})"
            if g["regression"]:
                change = f"[bold red]{change} REGRESSION[/]"
        mark = verdict(r["passed"])
        style = {"pass": "green", "FAIL": "bold red"}.get(mark)
        table.add_row(
            r["figure"],
            fmt(r["value"], r["unit"]),
            base,
            "—" if r["ratio"] is None else f"{r['ratio']:.2f}",
            r["target"] or "—",
            f"[{style}]{mark}[/]" if style else mark,
            change,
        )
    console.print(table)
    for note in doc.get("notes", []):
        console.print(f"  [dim]• {note}[/]")


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


# --------------------------------------------------------------------------- /proc


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_bytes(pid: int) -> int:
    """Resident set size of a process; 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def self_rss() -> int:
    return rss_bytes(os.getpid())


# --------------------------------------------------------------------------- cluster


@dataclass(frozen=True)
class Cluster:
    settings: ClusterSettings
    kafka_pid: int | None
    redis_pid: int | None


def cluster() -> Cluster:
    """Kafka + Redis up (reused when already running), with their pids for /proc."""
    from cluster.local import up

    settings = ClusterSettings()
    status = up(settings)
    return Cluster(settings, status.kafka.pid, status.redis.pid)


def fresh_run(label: str, *, partitions: int | None = None) -> tuple[Any, ClusterSettings]:
    """A run namespace with its topics created: (namespace, settings)."""
    from cluster.topics import ensure_topics
    from stream_app.fleet import RunNamespace

    ns = RunNamespace.fresh(f"bench-{label}")
    settings = ns.settings(ClusterSettings())
    if partitions is not None:
        settings = settings.model_copy(update={"plays_partitions": partitions})
    ensure_topics(settings)
    return ns, settings


def drop_run(run_id: str, settings: ClusterSettings) -> None:
    """Delete a run's topics (its own and the Faust app's internal ones) and Redis keys."""
    from kafka.admin import KafkaAdminClient

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, request_timeout_ms=20000)
        try:
            doomed = [t for t in admin.list_topics() if run_id in t]
            if doomed:
                admin.delete_topics(doomed)
        finally:
            admin.close()
    with contextlib.suppress(Exception):
        from stream_app.recs_store import sync_client

        client = sync_client(settings)
        batch: list[Any] = []
        for key in client.scan_iter(match=f"{settings.redis_prefix}*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                client.unlink(*batch)
                batch.clear()
        if batch:
            client.unlink(*batch)


def topic_end_offsets(settings: ClusterSettings, topic: str) -> dict[int, int]:
    from producers.readback import end_offsets

    return end_offsets(settings, topic)


def group_lag(admin: Any, consumer: Any, group: str, topic: str) -> int | None:
    """Sum over partitions of end offset minus the group's committed offset."""
    from kafka import TopicPartition

    try:
        if hasattr(admin, "list_group_offsets"):  # kafka-python 3.x
            committed = admin.list_group_offsets({group: None}).get(group, {})
        else:
            committed = admin.list_consumer_group_offsets(group)
    except Exception:
        return None
    parts = consumer.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    ends = consumer.end_offsets(tps)
    lag = 0
    for tp in tps:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, ends[tp] - done)
    return lag


@contextlib.contextmanager
def timed() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - t0


def load_lastfm(limit: int | None = None) -> list[Any]:
    """The bundled Last.fm plays as PlayEvents, in event-time order."""
    from models.events import event_time_order
    from models.parsers import parse_paths

    plays = event_time_order(parse_paths([LASTFM]).events)
    return plays[:limit] if limit else plays


def profile_top(fn: Any, *, top: int = 12) -> tuple[Any, list[dict[str, Any]]]:
    """Run ``fn()`` under cProfile: (its return value, the top functions by own time)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    value = prof.runcall(fn)
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values()) or 1.0  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda kv: -kv[1][2],
    )[:top]:
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": ncalls,
                "own_s": round(tottime, 3),
                "own_share": round(tottime / total, 3),
                "cumulative_s": round(cumtime, 3),
            }
        )
    return value, rows
