"""The local Redis: Debian's ``redis-server``, started by us as a plain child process.

No service manager: ``redis-server <conf>`` runs in the foreground of its own session,
its files under ``<local_dir>/redis/<port>/``. The configuration, password included,
is a generated 0600 file, so the password appears neither in ``ps`` nor in a log.
Nothing is persisted (``save ''``, ``appendonly no``): Redis holds derived state only.

>>> from pathlib import Path
>>> from pydantic import SecretStr
>>> s = ClusterSettings(local_dir=Path("/tmp/x"), redis_port=6390, redis_password=SecretStr("pw"))
>>> conf = render_config(s)
>>> "port 6390" in conf and "bind 127.0.0.1" in conf and "save ''" in conf
True
>>> 'requirepass "pw"' in conf
True
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cluster import process
from cluster.settings import ClusterSettings


@dataclass(frozen=True)
class RedisPaths:
    """Files of the Redis on one port: ``<local_dir>/redis/<port>/``."""

    root: Path
    data: Path
    config: Path
    pid: Path
    log: Path

    @classmethod
    def of(cls, settings: ClusterSettings) -> RedisPaths:
        root = settings.local_dir / "redis" / str(settings.redis_port)
        return cls(
            root=root,
            data=root / "data",
            config=root / "redis.conf",
            pid=root / "redis.pid",
            log=root / "redis.log",
        )


class RedisAuthError(RuntimeError):
    """A Redis answers on the port, but not to our password (or lack of one)."""


def markers(settings: ClusterSettings) -> tuple[str, ...]:
    # redis-server rewrites its process title to "redis-server 127.0.0.1:6379".
    return ("redis-server", f":{settings.redis_port}")


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_config(settings: ClusterSettings) -> str:
    """``redis.conf`` contents for the local Redis (contains the password when set)."""
    paths = RedisPaths.of(settings)
    lines = [
        "# Written by `encore cluster up` (mode 0600: it may hold the password).",
        f"port {settings.redis_port}",
        f"bind {settings.host}",
        f"dir {_quote(str(paths.data))}",
        "save ''",
        "appendonly no",
        "daemonize no",
        "protected-mode yes",
        'logfile ""',
        "loglevel notice",
    ]
    password = settings.redis_password_value()
    if password:
        lines.append(f"requirepass {_quote(password)}")
    return "\n".join(lines) + "\n"


def write_config(settings: ClusterSettings) -> Path:
    """Write the config with mode 0600 (created that way, never briefly world-readable)."""
    paths = RedisPaths.of(settings)
    paths.data.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, render_config(settings).encode("utf-8"))
    finally:
        os.close(fd)
    return paths.config


def start(settings: ClusterSettings) -> int:
    """Install redis-server if missing, launch it detached, write its pid file."""
    binary = process.ensure_command("redis-server", "redis-server")
    paths = RedisPaths.of(settings)
    config = write_config(settings)
    pid = process.spawn_detached([binary, str(config)], paths.log, cwd=paths.root)
    process.write_pid(paths.pid, pid)
    return pid


def ping(settings: ClusterSettings, timeout: float = 1.0) -> bool:
    """True when Redis on ``host:redis_port`` answers PING with our credentials.

    Raises :class:`RedisAuthError` when a Redis answers but refuses them.
    """
    if not process.port_open(settings.host, settings.redis_port, timeout=timeout):
        return False
    import redis  # the client library, not this module
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis(
        host=settings.host,
        port=settings.redis_port,
        password=settings.redis_password_value(),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # redis-py retries ConnectionError subclasses, AuthenticationError included (~4 s):
        # a probe wants the first answer.
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except (redis.AuthenticationError, redis.exceptions.AuthenticationWrongNumberOfArgsError):
        raise RedisAuthError(
            f"a Redis on {settings.host}:{settings.redis_port} refused our password"
            if settings.redis_password
            else f"a Redis on {settings.host}:{settings.redis_port} requires a password: "
            "set ENCORE_REDIS_PASSWORD"
        ) from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise RedisAuthError(
                f"a Redis on {settings.host}:{settings.redis_port} refused our credentials"
            ) from None
        return False
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


def open_without_password(settings: ClusterSettings) -> bool:
    """True when a password is configured but the Redis on the port answers without one.

    A reused Redis (started before the password was set) would not protect anything.
    """
    if not settings.redis_password:
        return False
    try:
        return ping(settings.model_copy(update={"redis_password": None}))
    except RedisAuthError:
        return False
