"""`encore api`: serve the lookup API and the web page with uvicorn."""

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
        int | None, typer.Option(help="uvicorn worker processes (default ENCORE_API_WORKERS).", min=1)
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve GET /v1/... (recommendations, history, model, listeners), /metrics and the page at /."""
    import uvicorn

    from api.app import create_app
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
    common = {
        "host": settings.api_host,
        "port": settings.api_port,
        "log_level": log_level,
        "loop": settings.api_loop,
        "http": settings.api_http,
        # uvicorn calls the access logger on every request even when its level hides it.
        "access_log": log_level.lower() in ("trace", "debug", "info"),
    }
    if settings.api_workers == 1:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
    else:
        # Each worker process builds its app from the environment (ENCORE_...), as
        # `uvicorn api.app:app` does; only host and port are taken from the options.
        uvicorn.run("api.app:create_app", factory=True, workers=settings.api_workers, **common)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Add `encore api` to the `encore` app."""
    app.command("api")(serve)
