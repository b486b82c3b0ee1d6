"""Settings of the lookup API. Environment prefix ``ENCORE_`` (e.g. ``ENCORE_API_KEY``).

Redis host, port, password and key prefix come from ``ClusterSettings`` (``ENCORE_HOST``,
``ENCORE_REDIS_PORT``, ``ENCORE_REDIS_PASSWORD``, ``ENCORE_REDIS_PREFIX``).

>>> s = ApiSettings()
>>> s.api_port, s.k_max, s.api_key is None, s.api_workers
(8000, 100, True, 1)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cluster.settings import ClusterSettings


class ApiSettings(BaseSettings):
    """Where the API listens, its optional key, its limits and its Redis pool."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", extra="ignore")

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    #: Worker processes of ``encore api`` (granian); see docs/api.md, "Throughput", for
    #: how the default was measured on a 2-core machine.
    api_workers: int = Field(default=1, ge=1, le=64)
    #: The workers' event loop; ``auto`` takes uvloop when installed.
    api_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    #: When set, every /v1 route needs header ``X-API-Key`` equal to it. Never logged.
    api_key: SecretStr | None = None
    #: Largest ``k`` a recommendations lookup may ask for.
    k_max: int = Field(default=100, ge=1)
    #: Largest ``limit`` of the history, listeners and model-history routes.
    #: Redis keeps a listener's 20 most recent plays (the rest of the history is in Kafka).
    history_max: int = Field(default=20, ge=1)
    listeners_max: int = Field(default=1000, ge=1)
    model_history_max: int = Field(default=5000, ge=1)
    #: Socket, connect and pool-wait timeout towards Redis; past it a request gets 503.
    redis_timeout_s: float = Field(default=1.0, gt=0)
    redis_max_connections: int = Field(default=32, ge=1)
    #: How often the web page refreshes its charts and lists.
    page_refresh_s: float = Field(default=5.0, gt=0)
    #: Redis connection (host, port, password, key prefix).
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    def api_key_value(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None
