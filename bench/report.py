"""``bench/RESULTS.md``: every result file as one markdown table for the README.

>>> doc = {"name": "x", "date": "2026-01-01T00:00:00+00:00", "machine": {"nproc": 2, "memory_gib": 23.5,
...        "cpu_model": "Xeon"}, "git": {"commit": "abc"}, "parameters": {}, "notes": [],
...        "rows": [{"figure": "f", "value": 2.0, "unit": "x", "baseline": "b", "baseline_value": 4.0,
...                  "ratio": 0.5, "target": ">= 0.5", "passed": True}]}
>>> print(table_rows([doc])[0])
| x | f | 2.00 x | b: 4.00 x | 0.50 | >= 0.5 | pass | 2026-01-01 | 2 cores, 23.5 GiB | abc |
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import BENCHMARKS
from bench.common import RESULTS_DIR, fmt, verdict

RESULTS_MD = RESULTS_DIR.parent / "RESULTS.md"


def load_all(results_dir: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    order = {name: i for i, name in enumerate(BENCHMARKS)}
    docs = []
    for path in sorted(results_dir.glob("*.json")):
        try:
            docs.append(json.loads(path.read_text()))
        except ValueError:
            continue
    def rank(doc: dict[str, Any]) -> tuple[int, str]:
        name = doc.get("name", "")
        return order.get(name.split("-")[0], 99), name

    return sorted(docs, key=rank)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table_rows(docs: Sequence[dict[str, Any]]) -> list[str]:
    lines = []
    for doc in docs:
        for r in doc.get("rows", []):
            base = f"{r['baseline']}: {fmt(r['baseline_value'], r['unit'])}" if r.get("baseline") else "—"
            ratio = "—" if r.get("ratio") is None else f"{r['ratio']:.2f}"
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        doc["name"],
                        r["figure"],
                        fmt(r["value"], r["unit"]),
                        base,
                        ratio,
                        r.get("target") or "—",
                        verdict(r.get("passed")),
                        doc["date"][:10],
                        f"{doc['machine']['nproc']} cores, {doc['machine']['memory_gib']} GiB",
                        doc["git"]["commit"][:7],
                    )
                )
                + " |"
            )
    return lines


def markdown(docs: Sequence[dict[str, Any]]) -> str:
    if not docs:
        return "No benchmark results yet: run `encore bench`.\n"
    machines = {
        f"{d['machine']['nproc']} cores, {d['machine']['memory_gib']} GiB, {d['machine']['cpu_model']}"
        for d in docs
    }
    commits = sorted({d["git"]["commit"] for d in docs})
    dates = sorted(d["date"][:10] for d in docs)
    out = [
        "# Benchmark results",
        "",
        f"Machine: {'; '.join(sorted(machines))}; real Kafka 3.9 (KRaft, one broker) and Redis 7 on "
        f"loopback. Dates {dates[0]} to {dates[-1]}; commits {', '.join(commits)}. Every figure is "
        "measured beside its baseline in the same run; the ratio is what the targets and the "
        "regression gate use. Made by `encore bench` from `bench/results/*.json`.",
        "",
        "| bench | figure | value | baseline (same run) | ratio | target | pass | date | machine | commit |",
        "|---|---|---:|---|---:|---|---|---|---|---|",
        *table_rows(docs),
        "",
    ]
    notes = [(d["name"], n) for d in docs for n in d.get("notes", [])]
    if notes:
        out += ["Notes:", ""]
        out += [f"- **{name}**: {note}" for name, note in notes]
        out.append("")
    return "\n".join(out)


def write(results_dir: Path = RESULTS_DIR, out: Path = RESULTS_MD) -> Path:
    out.write_text(markdown(load_all(results_dir)))
    return out
