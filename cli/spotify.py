"""`encore auth` and `encore poll`: the Spotify recently-played poller."""

from __future__ import annotations

import logging
import signal
import sys
import webbrowser
from datetime import datetime
from types import FrameType

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.logging import RichHandler
from rich.panel import Panel
from rich.table import Table

from cluster.settings import ClusterSettings
from producers.spotify import redact
from producers.spotify.auth import authorise
from producers.spotify.poller import ListenerReport, Status
from producers.spotify.service import build_poller, token_store
from producers.spotify.settings import SettingsError, SpotifySettings
from producers.spotify.tokens import check_listener

console = Console(highlight=False)
log = logging.getLogger(__name__)


def _setup_logging(verbose: bool) -> None:
    redact.install()
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    handler.addFilter(redact.RedactingFilter())  # records of any logger, once more
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], format="%(message)s", force=True
    )
    # kafka-python, urllib3 and spotipy log every failed attempt; the poller reports
    # failures itself (status lines, backoff warnings), so theirs show with -v only.
    for noisy in ("kafka", "urllib3", "spotipy"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


def _when(report: ListenerReport) -> str:
    cursor = report.cursor
    return cursor.strftime("%Y-%m-%d %H:%M:%S UTC") if cursor else "-"


_STYLE = {
    Status.OK: "green",
    Status.PENDING: "dim",
    Status.RATE_LIMITED: "yellow",
    Status.BACKING_OFF: "yellow",
    Status.NEEDS_REAUTH: "red",
    Status.FAILED: "red",
}


def _summary(reports: dict[str, ListenerReport]) -> Table:
    table = Table(title="Spotify poller")
    for column in ("listener", "status", "produced", "newest play (cursor)", "lost gaps", "note"):
        table.add_column(column, justify="right" if column == "produced" else "left")
    for name, r in reports.items():
        gaps = "; ".join(f"{g.after:%Y-%m-%d %H:%M} .. {g.before:%Y-%m-%d %H:%M}" for g in r.losses)
        table.add_row(
            name,
            f"[{_STYLE[r.status]}]{r.status.value}[/]",
            str(r.produced_total),
            _when(r),
            f"[red]{gaps}[/]" if gaps else "0",
            r.message,
        )
    return table


def register(app: typer.Typer) -> None:
    """Add this group's commands to the `encore` app."""

    @app.command("auth")
    def auth_command(
        listener: str = typer.Option(..., "--listener", "-l", help="Name of the listener."),
        timeout: float = typer.Option(300.0, help="Seconds to wait for Spotify's redirect."),
        open_browser: bool = typer.Option(False, "--open/--no-open", help="Open a browser."),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Authorise encore to read LISTENER's recently played tracks (OAuth code flow)."""
        _setup_logging(verbose)
        try:
            check_listener(listener)
            settings = SpotifySettings()
            store = token_store(settings, ClusterSettings())
            cache = store.handler(listener)

            def show(url: str) -> None:
                console.print(
                    Panel(
                        f"Open this URL as [bold]{listener}[/], log in and approve:\n\n{url}",
                        title="Spotify authorisation",
                        subtitle=f"waiting for the redirect to {settings.redirect_uri}",
                    ),
                    soft_wrap=True,
                )
                console.print(f"AUTHORIZE_URL {url}", soft_wrap=True, markup=False)
                if open_browser:
                    webbrowser.open(url)

            token = authorise(settings, cache, show_url=show, timeout_s=timeout)
        except (SettingsError, ValueError, TimeoutError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        except Exception as exc:
            console.print(f"[red]authorisation failed:[/] {redact.redact(str(exc))}")
            raise typer.Exit(1) from None
        where = (
            f"Redis key {ClusterSettings().redis_prefix}spotify-token:{listener}"
            if settings.token_store == "redis"
            else f"{settings.token_dir / (listener + '.json')} (mode 0600)"
        )
        console.print(
            f"[green]listener {listener} authorised[/] (grant {token.fingerprint()}); "
            f"tokens stored in {where}"
        )

    @app.command("poll")
    def poll_command(
        listener: list[str] = typer.Option(  # noqa: B008
            [], "--listener", "-l", help="Listener to poll (repeat); default: all authorised."
        ),
        once: bool = typer.Option(False, "--once", help="Poll each listener until caught up, exit."),
        topic: str | None = typer.Option(None, help="Kafka topic (default: the plays topic)."),
        verbose: bool = typer.Option(False, "--verbose", "-v"),
    ) -> None:
        """Poll listeners' recently played tracks into Kafka, cursors in Redis."""
        _setup_logging(verbose)

        def on_report(report: ListenerReport) -> None:
            if report.produced_last_cycle or report.status is not Status.OK:
                style = _STYLE[report.status]
                console.print(
                    f"{datetime.now():%H:%M:%S} [bold]{report.listener}[/] "
                    f"[{style}]{report.status.value}[/] +{report.produced_last_cycle} plays "
                    f"(total {report.produced_total}, cursor {_when(report)})"
                    + (f" - {report.message}" if report.message else "")
                )

        try:
            for name in listener:
                check_listener(name)
            settings = SpotifySettings()
            settings.require_client_id()
            settings.client_secret_value()
            poller = build_poller(settings, ClusterSettings(), listener, topic=topic, on_report=on_report)
        except (SettingsError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from None
        except KafkaError as exc:
            console.print(f"[red]Kafka is not reachable:[/] {exc} (try: encore cluster up)")
            raise typer.Exit(2) from None

        def on_term(signum: int, frame: FrameType | None) -> None:
            poller.stop()

        signal.signal(signal.SIGTERM, on_term)
        names = ", ".join(poller.reports)
        mode = "until caught up" if once else f"every {settings.poll_interval_s:g} s, Ctrl-C stops"
        console.print(f"polling {names} {mode}")
        try:
            reports = poller.run(once=once)
        except KeyboardInterrupt:
            reports = poller.reports
        finally:
            poller.close()
        console.print(_summary(reports))
        failed = [r for r in reports.values() if r.status in (Status.NEEDS_REAUTH, Status.FAILED)]
        if failed:
            sys.stdout.flush()
            raise typer.Exit(1)
