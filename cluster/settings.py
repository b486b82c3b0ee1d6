"""Where the cluster listens and keeps its files. Environment prefix ``ENCORE_``.

>>> s = ClusterSettings()
>>> s.bootstrap_servers
'127.0.0.1:9092'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class ClusterSettings(BaseSettings):
    """Ports, data directory, topics and the Redis password."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", extra="ignore")

    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    redis_port: int = 6379
    #: Redis password; read from the environment (ENCORE_REDIS_PASSWORD), never logged.
    redis_password: SecretStr | None = None
    #: Kafka jars, data dirs, pid files and logs live here (ignored by git).
    local_dir: Path = REPO_ROOT / ".local"

    plays_topic: str = "plays"
    plays_partitions: int = 8
    dlq_topic: str = "plays-dlq"
    examples_topic: str = "examples"
    snapshots_topic: str = "model-snapshots"
    #: Prefix of every Redis key the project writes (DESIGN.md, "Redis contract").
    redis_prefix: str = "encore:"

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        """URL without the password; pass ``password=`` separately so it never prints."""
        return f"redis://{self.host}:{self.redis_port}/0"

    def redis_password_value(self) -> str | None:
        return self.redis_password.get_secret_value() if self.redis_password else None
