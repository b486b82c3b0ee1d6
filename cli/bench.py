"""`encore bench [NAME...]`: run benchmarks, write bench/results/*.json and bench/RESULTS.md.

Each figure is measured beside a baseline in the same run; the run is gated by the
ratio against the last result of the same benchmark (exit code 1 on a regression
beyond ``--tolerance``, unless ``--no-gate``). Missed targets are reported, not fatal.
"""

from __future__ import annotations

import importlib
import signal
import sys
import time
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def register(app: typer.Typer) -> None:
    @app.command("bench")
    def bench(
        names: Annotated[
            list[str] | None,
            typer.Argument(
                help="Benchmarks to run (default: all): learner ingest replay stream "
                "freshness lookup memory soak."
            ),
        ] = None,
        quick: Annotated[bool, typer.Option("--quick", help="Short versions (minutes, not tens).")] = False,
        repeat: Annotated[int | None, typer.Option(help="Repetitions where a benchmark repeats.")] = None,
        limit: Annotated[
            int | None, typer.Option(help="Plays from the bundled file (ingest, stream).")
        ] = None,
        minutes: Annotated[float | None, typer.Option(help="soak: minutes (issue 8: 10).")] = None,
        rate: Annotated[float | None, typer.Option(help="freshness / soak: plays per second.")] = None,
        duration: Annotated[float | None, typer.Option(help="freshness / lookup: seconds of load.")] = None,
        sizes: Annotated[
            str | None, typer.Option(help="memory: listener counts, e.g. 10000,100000,1000000.")
        ] = None,
        plays_per_listener: Annotated[
            float | None, typer.Option(help="memory: mean plays per synthetic listener (default 30).")
        ] = None,
        workers: Annotated[int | None, typer.Option(help="freshness / soak: workers.")] = None,
        profile: Annotated[bool, typer.Option(help="stream: sample a worker with py-spy.")] = False,
        tolerance: Annotated[float, typer.Option(help="Regression tolerance on ratios vs last.")] = 0.15,
        gate: Annotated[bool, typer.Option("--gate/--no-gate", help="Exit 1 on a regression.")] = True,
        markdown_only: Annotated[
            bool, typer.Option("--markdown", help="Only rewrite bench/RESULTS.md from the JSON files.")
        ] = False,
        snapshot: Annotated[
            bool,
            typer.Option(
                "--snapshot",
                help="Measure the committed HEAD (a `git archive` copy), not a working tree that "
                "others may be editing; results still land in this checkout's bench/results.",
            ),
        ] = False,
    ) -> None:
        """Benchmarks (not tests): each figure beside a same-run baseline, JSON + table."""
        if snapshot:
            raise typer.Exit(_in_snapshot([a for a in sys.argv[1:] if a != "--snapshot"]))
        from bench import BENCHMARKS, report
        from bench.common import print_result, save

        # SIGTERM runs the benchmarks' `finally:` blocks (workers stopped, topics dropped).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

        if markdown_only:
            console.print(f"wrote {report.write()}")
            return
        chosen = names or list(BENCHMARKS)
        unknown = [n for n in chosen if n not in BENCHMARKS]
        if unknown:
            raise typer.BadParameter(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
        opts = {
            "quick": quick, "repeat": repeat, "limit": limit, "minutes": minutes, "rate": rate,
            "duration": duration, "sizes": sizes, "workers": workers, "profile": profile,
            "plays_per_listener": plays_per_listener,
        }  # fmt: skip
        regressions: list[str] = []
        failed: list[str] = []
        for name in chosen:
            console.rule(f"bench {name}{' (quick)' if quick else ''}")
            module = importlib.import_module(BENCHMARKS[name])
            started = time.monotonic()
            try:
                result = module.run(**{k: v for k, v in opts.items() if v is not None})
            except Exception as exc:  # one broken benchmark must not hide the others
                console.print(f"[bold red]bench {name} failed:[/] {type(exc).__name__}: {exc}")
                failed.append(name)
                continue
            doc = save(result, started=started, tolerance=tolerance)
            print_result(doc)
            regressions += [f"{name}.{k}" for k in doc["vs_last"]["regressions"]]
        console.print(f"wrote {report.write()}")
        if regressions:
            console.print(f"[bold red]regressions beyond {tolerance:.0%} vs last result:[/] {regressions}")
        if failed:
            console.print(f"[bold red]benchmarks that did not finish:[/] {failed}")
        if failed or (regressions and gate):
            raise typer.Exit(1)


def _in_snapshot(argv: list[str]) -> int:
    """Run ``encore <argv>`` inside an exported copy of HEAD (imports resolve there first)."""
    import os
    import subprocess

    from cluster.settings import REPO_ROOT, ClusterSettings

    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()  # fmt: skip
    local = ClusterSettings().local_dir
    where = local / "bench-snapshots" / sha[:12]
    if not (where / "bench").is_dir():
        where.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", sha], cwd=REPO_ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True)
    console.print(f"benchmarking commit {sha[:12]} from {where}")
    env = {
        **os.environ,
        "ENCORE_LOCAL_DIR": str(local),
        "BENCH_RESULTS_DIR": str(REPO_ROOT / "bench" / "results"),
        "BENCH_COMMIT": sha,
        "BENCH_LASTFM": str(REPO_ROOT.parent / "shared" / "data" / "lastfm_jodie" / "lastfm.tsv.gz"),
    }
    child = subprocess.Popen([sys.executable, "-m", "cli.main", *argv], cwd=where, env=env)
    # Ctrl-C reaches the child through the terminal; SIGTERM is passed on, so its
    # `finally:` blocks stop the workers and drop the run's topics.
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue
