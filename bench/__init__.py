"""Benchmarks of encore (``encore bench [NAME...]``): one module per benchmark.

Each benchmark measures its figure *beside a baseline measured in the same run* (these
2-core machines are shared and noisy, so the ratio is what is compared), writes
``bench/results/<name>.json`` and prints a rich table. Not part of the test suite.
"""

#: Benchmark name -> module under ``bench``; the order ``encore bench`` runs them in.
BENCHMARKS: dict[str, str] = {
    "learner": "bench.learner",
    "ingest": "bench.ingest",
    "replay": "bench.replay",
    "stream": "bench.stream",
    "freshness": "bench.freshness",
    "lookup": "bench.lookup",
    "memory": "bench.memory",
    "soak": "bench.soak",
}
