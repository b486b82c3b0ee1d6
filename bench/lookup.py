"""lookup: the API's recommendations lookup at 100 connections beside redis-benchmark GET.

A fresh Redis prefix gets recommendations (10 items with reasons, names of the
bundled file's tracks) for synthetic listeners; ``encore api`` serves it (granian,
``ENCORE_API_WORKERS`` processes, as shipped). Load: ``wrk`` (Debian's package; installed when missing) with
2 threads and 100 connections, each request a random listener's
``GET /v1/users/{id}/recommendations?k=10``. Ceiling, same Redis, same run:
``redis-benchmark -c 100 -t get``. Also measured: the lookup's own Redis work, the
same Lua script the API runs, through ``redis-benchmark EVALSHA`` at 100 connections.

The floor, same run: :mod:`bench.asgi_floor`, an ASGI app that sends a constant body of
the API's response size, served by the same granian (loop, processes) and
loaded by the same wrk run. No Python lookup service can beat it here; the API's
figures beside it show how much of the distance to the targets is the lookup itself.

Targets (issue 8): p99 < 5 ms and >= 20% of the ceiling's requests per second.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from api.settings import ApiSettings
from bench.common import Result, Row, cluster, drop_run, median
from bench.procs import spy_start, spy_summary, stop_process
from bench.synthetic import file_stats
from cluster.settings import REPO_ROOT, ClusterSettings
from stream_app.fleet import RunNamespace
from stream_app.recs_store import LOOKUP_LUA, RecItem, RecsWriter, TrackInfo, UserRecs

NAME = "lookup"
CONNECTIONS = 100


def ensure_wrk() -> str:
    exe = shutil.which("wrk")
    if exe:
        return exe
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"], check=True,
                   capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
    exe = shutil.which("wrk")
    if not exe:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return exe


def populate(writer: RecsWriter, listeners: int, seed: int = 5) -> None:
    stats = file_stats()
    rng = np.random.default_rng(seed)
    writer.write_tracks(TrackInfo(track_id=t, name=f"track {t}", artist=f"artist {int(t) % 97}")
                        for t in stats.track_ids)  # fmt: skip
    now = datetime.now(UTC)
    for start in range(0, listeners, 1000):
        batch = []
        for i in range(start, min(start + 1000, listeners)):
            tracks = rng.choice(stats.track_ids, size=10, replace=False, p=stats.track_p)
            scores = np.sort(rng.random(10))[::-1]
            items = [RecItem(track_id=str(t), score=float(s), reason="you played it 3 times")
                     for t, s in zip(tracks, scores, strict=True)]  # fmt: skip
            batch.append(UserRecs(user_id=f"s{i}", items=items, model_version="v1-bench", scored_at=now,
                                  as_of_event_time=now))  # fmt: skip
        writer.write_recommendations(batch)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_wrk(text: str) -> dict[str, float]:
    """p50/p99 (s), requests/s and errors from ``wrk --latency`` output."""
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}

    def lat(pct: str) -> float | None:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(m.group(1)) * unit[m.group(2)] if m else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {
        "p50_s": lat("50"),
        "p90_s": lat("90"),
        "p99_s": lat("99"),
        "rps": float(rps.group(1)) if rps else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }  # type: ignore[dict-item]


def redis_bench(settings: ClusterSettings, args: list[str], n: int) -> dict[str, float]:
    """redis-benchmark at 100 connections; rps and latency percentiles (s) from --csv."""
    cmd = ["redis-benchmark", "-h", settings.redis_host or settings.host, "-p", str(settings.redis_port),
           "-c", str(CONNECTIONS), "-n", str(n), "--csv", *args]  # fmt: skip
    if settings.redis_password is not None:
        cmd[1:1] = ["-a", settings.redis_password.get_secret_value(), "--no-auth-warning"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True).stdout
    lines = [ln for ln in out.strip().splitlines() if ln.startswith('"')]
    header = [h.strip('"') for h in lines[0].split(",")]
    values = [v.strip('"') for v in lines[-1].split(",")]
    row = dict(zip(header, values, strict=True))
    return {
        "rps": float(row["rps"]),
        "p50_s": float(row["p50_latency_ms"]) / 1000,
        "p99_s": float(row["p99_latency_ms"]) / 1000,
    }


def wait_answering(url: str, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up; see {log}")
        time.sleep(0.3)


def wrk_run(wrk: str, script: Path, url: str, duration: float) -> tuple[dict[str, float], str]:
    """A 3 s warm-up, then the measured run; (figures, wrk's output)."""
    subprocess.run([wrk, "-t2", f"-c{CONNECTIONS}", "-d3s", "-s", str(script), url], capture_output=True,
                   timeout=60)  # fmt: skip
    out = subprocess.run(
        [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{int(duration)}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, timeout=duration + 60, check=True,
    ).stdout  # fmt: skip
    return parse_wrk(out), out


def floor_run(wrk: str, script: Path, *, workers: int, body_bytes: int, duration: float,
              log: Path) -> dict[str, float]:  # fmt: skip
    """:mod:`bench.asgi_floor` under the same granian and the same wrk run."""
    port = free_port()
    stack = serving_stack()
    cmd = [sys.executable, "-m", "granian", "bench.asgi_floor:app", "--interface", "asginl",
           "--port", str(port), "--workers", str(workers), "--loop", stack["loop"], "--http", "1",
           "--log-level", "warning"]  # fmt: skip
    env = {**os.environ, "BENCH_FLOOR_BODY_BYTES": str(body_bytes)}
    proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_answering(f"{url}/", proc, log, "the ASGI floor")
        figures, _ = wrk_run(wrk, script, url, duration)
        return figures
    finally:
        stop_process(proc)


def serving_stack() -> dict[str, str]:
    """The server ``encore api`` runs, the loop its ``auto`` picks (uvloop when installed)
    and redis-py's parser for the other routes (hiredis when installed)."""
    have = {name: importlib.util.find_spec(name) is not None for name in ("uvloop", "hiredis")}
    return {
        "server": f"granian {importlib.metadata.version('granian')}",
        "loop": "uvloop" if have["uvloop"] else "asyncio",
        "redis_parser": "hiredis" if have["hiredis"] else "python",
    }


def run(
    *, quick: bool = False, duration: float | None = None, listeners: int = 10_000, profile: bool = False,
    workers: int | None = None, **_: Any,
) -> Result:  # fmt: skip
    workers = workers or ApiSettings().api_workers
    c = cluster()
    wrk = ensure_wrk()
    duration = duration or (10.0 if quick else 30.0)
    ns = RunNamespace.fresh("bench-lookup")
    settings = ns.settings(c.settings)
    writer = RecsWriter.from_settings(settings)
    populate(writer, listeners)
    port = free_port()
    env = {**os.environ, **ns.env(), "ENCORE_API_PORT": str(port)}
    log = (settings.local_dir / "runs").joinpath(f"{ns.run_id}-api.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "cli.main", "api", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning"]  # fmt: skip
    api = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(
        f"math.randomseed(7)\nrequest = function()\n"
        f'  local u = "s" .. math.random(0, {listeners - 1})\n'
        f'  return wrk.format("GET", "/v1/users/" .. u .. "/recommendations?k=10")\n'
        f"end\n"
    )
    url = f"http://127.0.0.1:{port}"
    ceilings: list[dict[str, float]] = []
    lua: dict[str, float] = {}
    spy_out = log.with_suffix(".py-spy.txt")
    try:
        wait_answering(f"{url}/v1/users/s1/recommendations", api, log, "the API")
        body_bytes = len(httpx.get(f"{url}/v1/users/s1/recommendations?k=10", timeout=2).content)
        n_get = 200_000 if quick else 500_000
        ceilings.append(redis_bench(settings, ["-t", "get"], n_get))
        spy = spy_start(api.pid, max(5, duration - 2), spy_out) if profile else None
        api_fig, out = wrk_run(wrk, script, url, duration)
        if spy is not None:
            spy.wait(timeout=duration + 30)
        stop_process(api)  # off the cores while the floor runs
        floor = floor_run(wrk, script, workers=workers, body_bytes=body_bytes, duration=duration, log=log)
        ceilings.append(redis_bench(settings, ["-t", "get"], n_get))
        sha = writer.client.script_load(LOOKUP_LUA)
        k = writer.keys
        lua = redis_bench(
            settings,
            ["evalsha", sha, "4", k.recs("s1"), k.meta("s1"), k.reasons("s1"), k.listeners, "10", "s1"],
            n_get // 2,
        )  # fmt: skip
    finally:
        if api.poll() is None:
            stop_process(api)
        script.unlink(missing_ok=True)
        drop_run(ns.run_id, settings)
    get_rps = median([x["rps"] for x in ceilings]) or 0.0
    get_p99 = median([x["p99_s"] for x in ceilings])
    get_p50 = median([x["p50_s"] for x in ceilings])
    rows = [
        Row(key="api_p99_ms", figure="API lookup p99, 100 connections", value=(api_fig["p99_s"] or 0) * 1e3,
            unit="ms", baseline="redis-benchmark GET p99", baseline_value=(get_p99 or 0) * 1e3,
            target="< 5 ms", passed=(api_fig["p99_s"] or 1) < 0.005, higher_is_better=False),
        Row(key="api_p50_ms", figure="API lookup p50, 100 connections", value=(api_fig["p50_s"] or 0) * 1e3,
            unit="ms", baseline="redis-benchmark GET p50", baseline_value=(get_p50 or 0) * 1e3,
            higher_is_better=False),
        Row(key="api_rps", figure="API lookups per second", value=api_fig["rps"], unit="req/s",
            baseline="redis-benchmark GET", baseline_value=get_rps, target=">= 0.20 of GET",
            passed=api_fig["rps"] >= 0.2 * get_rps),
        Row(key="lua_rps", figure="the lookup's Redis script alone (EVALSHA)", value=lua.get("rps"),
            unit="req/s", baseline="redis-benchmark GET", baseline_value=get_rps),
        Row(key="floor_rps", figure="ASGI floor: constant body, same server, same wrk", value=floor["rps"],
            unit="req/s", baseline="redis-benchmark GET", baseline_value=get_rps, target=">= 0.20 of GET",
            passed=floor["rps"] >= 0.2 * get_rps,
            note="no Python lookup service can beat this here"),
        Row(key="floor_p99_ms", figure="ASGI floor p99, 100 connections", value=(floor["p99_s"] or 0) * 1e3,
            unit="ms", baseline="redis-benchmark GET p99", baseline_value=(get_p99 or 0) * 1e3,
            target="< 5 ms", passed=(floor["p99_s"] or 1) < 0.005, higher_is_better=False),
        Row(key="api_vs_floor", figure="API lookups/s beside the ASGI floor", value=api_fig["rps"],
            unit="req/s", baseline="ASGI floor", baseline_value=floor["rps"]),
    ]  # fmt: skip
    return Result(
        name=NAME,
        parameters={
            "connections": CONNECTIONS,
            "wrk_threads": 2,
            "seconds": duration,
            "listeners": listeners,
            "k": 10,
            "api_processes": workers,
            **serving_stack(),
            "tool": "wrk 4.1 (Debian) --latency",
        },
        rows=rows,
        figures={
            "api": api_fig,
            "redis_get_runs": ceilings,
            "redis_lookup_script": lua,
            "asgi_floor": floor,
            "body_bytes": body_bytes,
            "api_profile": spy_summary(spy_out) if profile else {},
            "wrk_output": out,
        },
        notes=[
            "wrk, the API, Redis and redis-benchmark share the machine's 2 cores; closed loop: "
            "at 100 connections, latency = 100 / throughput."
        ],
    )
