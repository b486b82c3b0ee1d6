"""`encore api`: serve the lookup API and the web page with granian.

granian (HTTP in Rust, the app on uvloop) answered the same lookups 1.4x as fast as
uvicorn with uvloop and httptools here, and sent a constant body 2x as fast (2026-12-08,
docs/api.md "Throughput"). Each worker process builds the app from the environment
(``api.app:app``, ENCORE_...); only the address, port, workers and log level are the
server's. Stop it with SIGTERM or Ctrl-C, which stops the workers too.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

err_console = Console(stderr=True)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default ENCORE_API_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default ENCORE_API_PORT, 8000).", min=0, max=65535)
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default ENCORE_API_WORKERS).", min=1)
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Server log level: critical, error, warning, info, debug.")
    ] = "info",
) -> None:
    """Serve GET /v1/... (recommendations, history, model, listeners), /metrics and the page at /."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    from api.settings import ApiSettings

    updates: dict[str, object] = {}
    if host is not None:
        updates["api_host"] = host
    if port is not None:
        updates["api_port"] = port
    if workers is not None:
        updates["api_workers"] = workers
    settings = ApiSettings().model_copy(update=updates)
    redis_at = f"{settings.cluster.redis_host or settings.cluster.host}:{settings.cluster.redis_port}"
    err_console.print(
        f"encore api on http://{settings.api_host}:{settings.api_port}/ "
        f"(Redis {redis_at}, prefix {settings.cluster.redis_prefix!r}, "
        f"API key {'on' if settings.api_key else 'off'}, {settings.api_workers} worker(s))"
    )
    Granian(
        "api.app:app",
        address=settings.api_host,
        port=settings.api_port,
        interface=Interfaces.ASGI,
        workers=settings.api_workers,
        loop=Loops(settings.api_loop),
        http=HTTPModes.http1,
        log_level=LogLevels(log_level.lower()),
        log_access=log_level.lower() in ("info", "debug"),
    ).serve()


def register(app: typer.Typer) -> None:
    """Add `encore api` to the `encore` app."""
    app.command("api")(serve)
