"""Entry point of the `encore` command. Each module registers its own commands."""

from __future__ import annotations

import typer

from cli import api, bench, cluster, demo, evaluate, ingest, replay, report, spotify, worker

app = typer.Typer(
    name="encore",
    help="Streaming music recommender: replay, learn, recommend.",
    no_args_is_help=True,
    add_completion=False,
)

for module in (cluster, ingest, replay, demo, spotify, api, report, worker, evaluate, bench):
    module.register(app)


if __name__ == "__main__":
    app()
