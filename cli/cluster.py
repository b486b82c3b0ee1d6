"""`encore cluster up | down | status`: the local Kafka broker and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table

from cluster.local import Action, ClusterStatus, ServiceStatus, down, status, up
from cluster.settings import ClusterSettings
from cluster.topics import ensure_topics, list_topics, topic_specs, wait_for_kafka

console = Console()
err_console = Console(stderr=True)

cluster_app = typer.Typer(
    name="cluster",
    help="Local Kafka (KRaft) + Redis on 127.0.0.1: up, down, status.",
    no_args_is_help=True,
)

_STYLE = {
    Action.STARTED: "green",
    Action.REUSED: "cyan",
    Action.RUNNING: "green",
    Action.STOPPED: "yellow",
    Action.KILLED: "red",
    Action.DOWN: "red",
    Action.NOT_RUNNING: "dim",
    Action.LEFT_RUNNING: "magenta",
}


@contextmanager
def _spinner(first: str) -> Iterator[Callable[[str], None]]:
    with console.status(first) as live:
        yield lambda message: live.update(f"{message}…")


def _services_table(services: tuple[ServiceStatus, ...] | list[ServiceStatus]) -> Table:
    table = Table(title=None, show_header=True, header_style="bold")
    for col in ("service", "state", "pid", "ports", "notes"):
        table.add_column(col)
    for s in services:
        style = _STYLE.get(s.action, "")
        state = s.action.value
        if s.ready_seconds is not None:
            state += f" (ready in {s.ready_seconds:.1f} s)"
        table.add_row(
            s.name,
            f"[{style}]{state}[/]" if style else state,
            str(s.pid) if s.pid else "-",
            ", ".join(str(p) for p in s.ports),
            "; ".join(s.notes),
        )
    return table


def _topics_table(result: ClusterStatus, settings: ClusterSettings) -> Table:
    wanted = {t.name: t.partitions for t in topic_specs(settings)}
    table = Table(show_header=True, header_style="bold")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("")
    for name, count in result.topics.items():
        note = ""
        if name in wanted and count != wanted[name]:
            note = f"[yellow]configured {wanted[name]}[/]"
        if name in result.topic_outcomes:
            note = (note + " " + result.topic_outcomes[name].value).strip()
        table.add_row(name, str(count), note)
    missing = [n for n in wanted if n not in result.topics]
    for name in missing:
        table.add_row(name, "-", "[red]missing[/]")
    return table


def _print_cluster(result: ClusterStatus, settings: ClusterSettings) -> None:
    console.print(_services_table(result.services))
    console.print(
        f"Kafka bootstrap [bold]{result.bootstrap_servers}[/]   Redis [bold]{result.redis_url}[/]"
        + ("  (password set)" if settings.redis_password else "")
    )
    if result.kafka.up:
        console.print(_topics_table(result, settings))


@cluster_app.command("up")
def up_command() -> None:
    """Start (or reuse) Kafka and Redis, wait until both answer, create the topics."""
    settings = ClusterSettings()
    try:
        with _spinner("checking what already runs…") as say:
            result = up(settings, say=say)
    except Exception as exc:
        err_console.print(f"[bold red]cluster up failed:[/] {exc}")
        raise typer.Exit(1) from None
    if result.jar_fetch and result.jar_fetch.fetched:
        console.print(f"fetched {result.jar_fetch.jars} Kafka jars in {result.jar_fetch.seconds:.1f} s")
    _print_cluster(result, settings)
    started = ", ".join(result.started) or "nothing (all reused)"
    console.print(f"[bold green]cluster up[/] in {result.seconds:.1f} s; started: {started}")


@cluster_app.command("down")
def down_command() -> None:
    """Stop the Kafka and Redis that `encore cluster up` started (and nothing else)."""
    settings = ClusterSettings()
    try:
        with _spinner("stopping…") as say:
            result = down(settings, say=say)
    except Exception as exc:
        err_console.print(f"[bold red]cluster down failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(_services_table(result))


@cluster_app.command("status")
def status_command() -> None:
    """Show Kafka and Redis (up/down, pid, ports) and the topics with partition counts.

    Exit code 0 when both are up, 1 otherwise.
    """
    settings = ClusterSettings()
    with console.status("looking…"):
        result = status(settings)
    _print_cluster(result, settings)
    if not (result.kafka.up and result.redis.up):
        raise typer.Exit(1)


@cluster_app.command("topics")
def topics_command(
    wait: float = typer.Option(120.0, help="Seconds to wait for Kafka to answer first."),
) -> None:
    """Create the project's topics on the configured Kafka (ENCORE_KAFKA_BOOTSTRAP) and list them.

    For a Kafka that `encore cluster up` did not start, such as docker-compose's.
    """
    settings = ClusterSettings()
    try:
        with console.status(f"waiting for Kafka at {settings.bootstrap_servers}…"):
            wait_for_kafka(settings, wait)
            outcomes = ensure_topics(settings)
            listed = list_topics(settings)
    except Exception as exc:
        err_console.print(f"[bold red]topics failed:[/] {exc}")
        raise typer.Exit(1) from None
    table = Table(show_header=True, header_style="bold")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("")
    for name, count in listed.items():
        table.add_row(name, str(count), outcomes[name].value if name in outcomes else "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the `encore` app."""
    app.add_typer(cluster_app, name="cluster")
