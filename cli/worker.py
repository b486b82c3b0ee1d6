"""`encore worker`: one Faust worker of the stream app (start several to share partitions)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        loglevel: Annotated[
            str, typer.Option("--loglevel", "-l", help="Faust log level (warn, info, debug).")
        ] = "warn",
        metrics_port: Annotated[
            int | None, typer.Option(help="Serve Prometheus /metrics on 127.0.0.1:PORT (0 = off).")
        ] = None,
    ) -> None:
        """Run one stream worker: features, labels, training, scoring (Ctrl-C stops it)."""
        if metrics_port is not None:
            os.environ["ENCORE_METRICS_PORT"] = str(metrics_port)
        # Importing the agents registers them (and their timers) on the app.
        from stream_app.agents import app as faust_app

        sys.argv = ["encore worker", "worker", "-l", loglevel, "--without-web"]
        faust_app.main()
