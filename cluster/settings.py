"""Where the cluster listens and keeps its files. Environment prefix ``ENCORE_``.

>>> s = ClusterSettings(kafka_bootstrap=None, redis_host=None, kafka_port=9092, redis_port=6379)
>>> s.bootstrap_servers
'127.0.0.1:9092'
>>> s.redis_url
'redis://127.0.0.1:6379/0'

Inside docker-compose the services point at the compose hosts instead:

>>> c = ClusterSettings(kafka_bootstrap="kafka:9092", redis_host="redis", redis_port=6379)
>>> c.bootstrap_servers, c.redis_url
('kafka:9092', 'redis://redis:6379/0')

The password never shows in a repr:

>>> "hunter2" in repr(ClusterSettings(redis_password="hunter2"))
False
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class ClusterSettings(BaseSettings):
    """Ports, data directory, topics and the Redis password."""

    model_config = SettingsConfigDict(env_prefix="ENCORE_", extra="ignore")

    #: Address the local broker and Redis bind to and that `encore cluster up` manages.
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    redis_port: int = 6379
    #: Redis password; read from the environment (ENCORE_REDIS_PASSWORD), never logged.
    redis_password: SecretStr | None = None
    #: Kafka jars, data dirs, pid files and logs live here (ignored by git).
    local_dir: Path = REPO_ROOT / ".local"

    #: Clients' bootstrap address when Kafka is not the local one (docker-compose:
    #: ``kafka:9092``). Default: ``host:kafka_port``. `encore cluster up` ignores it.
    kafka_bootstrap: str | None = None
    #: Redis host for clients when it is not ``host`` (docker-compose: ``redis``).
    redis_host: str | None = None

    #: JVM heap of the local broker (-Xmx); the machine is shared, keep it modest.
    kafka_heap: str = "1g"
    #: KRaft node id of the single local broker+controller.
    kafka_node_id: int = 1
    #: How long `up` waits for each process to answer before it gives up, seconds.
    start_timeout_s: float = Field(default=90.0, gt=0)
    #: How long `down` waits after SIGTERM before it sends SIGKILL, seconds.
    stop_timeout_s: float = Field(default=30.0, gt=0)

    plays_topic: str = "plays"
    plays_partitions: int = Field(default=8, ge=1)
    dlq_topic: str = "plays-dlq"
    dlq_partitions: int = Field(default=1, ge=1)
    examples_topic: str = "examples"
    #: The trainer is the single consumer of `examples` and learns in one order.
    examples_partitions: int = Field(default=1, ge=1)
    snapshots_topic: str = "model-snapshots"
    #: Prefix of every Redis key the project writes (DESIGN.md, "Redis contract").
    redis_prefix: str = "encore:"

    @property
    def bootstrap_servers(self) -> str:
        """The one address every Kafka client in the project connects to."""
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        """URL without the password; pass ``password=`` separately so it never prints."""
        return f"redis://{self.redis_host or self.host}:{self.redis_port}/0"

    def redis_password_value(self) -> str | None:
        return self.redis_password.get_secret_value() if self.redis_password else None
