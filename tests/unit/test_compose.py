"""docker-compose.yml: valid for a compose client, and the same `encore` commands as the
native cluster. No engine runs here; a client that can validate the file is used when
one exists, and the test says so visibly when none does."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import typer
import yaml

from cli.main import app
from cluster.settings import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
REQUIRED = {"kafka", "redis", "replay", "poller", "worker", "api"}


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _app_services() -> list[str]:
    """Services built from our Dockerfile (they run `encore ...`)."""
    return sorted(name for name, svc in _services().items() if "build" in svc)


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_client_validates_the_file() -> None:
    client = _compose_client()
    if client is None:
        pytest.skip(
            "no compose client here (neither `docker compose` nor `docker-compose`): "
            "docker-compose.yml checked by the YAML tests only; "
            "`apt-get install --no-install-recommends docker-compose` enables this check"
        )
    done = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "-q"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [*client, "-f", str(COMPOSE), "--profile", "spotify", "config", "--services"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert set(listed.stdout.split()) >= REQUIRED


def test_has_the_services_of_the_native_cluster() -> None:
    services = _services()
    assert set(services) >= REQUIRED
    assert str(services["kafka"]["image"]).startswith("apache/kafka:3.9")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(services["redis"]["image"]).startswith("redis:7")
    assert (REPO_ROOT / "Dockerfile").is_file()
    for name in ("replay", "poller", "worker", "api"):
        assert services[name]["build"] == ".", name


def test_worker_can_be_scaled() -> None:
    worker = _services()["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # a fixed host port would clash at --scale worker=2


def test_app_services_run_encore_commands() -> None:
    services = _services()
    for name in _app_services():
        command = services[name]["command"]
        assert isinstance(command, list) and command[0] == "encore", (name, command)
    assert services["replay"]["command"] == ["encore", "replay", "/data/lastfm.tsv.gz", "--max"]
    assert services["poller"]["command"] == ["encore", "poll"]
    assert services["worker"]["command"] == ["encore", "worker"]
    assert services["api"]["command"] == ["encore", "api"]


def test_app_services_configure_through_encore_settings() -> None:
    services = _services()
    for name in _app_services():
        env = services[name]["environment"]
        assert all(key.startswith("ENCORE_") for key in env), (name, sorted(env))
        assert env["ENCORE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["ENCORE_REDIS_HOST"] == "redis"
        # Secrets come from the caller's environment, never written into the file.
        assert env.get("ENCORE_REDIS_PASSWORD", "").startswith("${")


def _resolve(args: list[str]) -> tuple[Any, list[str]]:
    """Walk `encore`'s command tree along ``args``; (None, ...) when a name is unknown.

    typer 0.29 vendors its own click, so groups are recognised by their ``commands``.
    """
    command: Any = typer.main.get_command(app)
    rest = list(args)
    while rest and isinstance(getattr(command, "commands", None), dict):
        command = command.commands.get(rest[0])
        rest = rest[1:]
        if command is None:
            break
    return command, rest


@pytest.mark.parametrize("service", ["topics", "replay", "poller", "worker", "api"])
def test_service_command_is_a_real_encore_command(service: str) -> None:
    svc = _services().get(service)
    if svc is None:
        pytest.skip(f"no {service} service")
    args = list(svc["command"][1:])
    command, rest = _resolve(args)
    if command is None:
        pytest.xfail(f"`encore {args[0]}` is not implemented yet (service {service!r})")
    # Parse (not run) the arguments: unknown options or missing arguments raise here.
    command.make_context(f"encore {args[0]}", rest)


def test_replay_mounts_the_bundled_dataset() -> None:
    (volume,) = _services()["replay"]["volumes"]
    source, target, mode = str(volume).rsplit(":", 2)
    assert (target, mode) == ("/data", "ro")
    # "${ENCORE_DATA_DIR:-../shared/data/lastfm_jodie}": overridable, default beside the repo.
    assert source.startswith("${ENCORE_DATA_DIR:-") and source.endswith("}")
    default = REPO_ROOT / source.removeprefix("${ENCORE_DATA_DIR:-").removesuffix("}")
    assert default.resolve() == (REPO_ROOT.parent / "shared/data/lastfm_jodie").resolve()
