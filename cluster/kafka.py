"""The local Kafka broker: Apache Kafka 3.9 in KRaft mode, run from its Maven Central jars.

Steps, each idempotent: fetch the jars once with Maven (``infra/kafka/pom.xml``), write
``server.properties`` for one broker+controller on ``host``, format the storage once
(the cluster id is kept in ``cluster.id``), start ``java -cp 'lib/*' kafka.Kafka`` in
its own session with a pid file, and wait until it answers a metadata request.

>>> from pathlib import Path
>>> s = ClusterSettings(local_dir=Path("/tmp/x"), kafka_bootstrap=None,
...                     kafka_port=9092, kafka_controller_port=9093)
>>> props = render_server_properties(s)
>>> props["process.roles"], props["controller.quorum.voters"]
('broker,controller', '1@127.0.0.1:9093')
>>> props["listeners"]
'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093'
>>> props["log.dirs"]
'/tmp/x/kafka/data'
>>> len(new_cluster_id())
22
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cluster import process
from cluster.settings import REPO_ROOT, ClusterSettings

INFRA_DIR = REPO_ROOT / "infra" / "kafka"
POM = INFRA_DIR / "pom.xml"
LOG4J = INFRA_DIR / "log4j.properties"
MAIN_CLASS = "kafka.Kafka"

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class KafkaPaths:
    """Every file of the local broker, under ``<local_dir>/kafka`` (jars under ``lib``)."""

    root: Path
    lib: Path
    m2: Path
    data: Path
    logs: Path
    config: Path
    cluster_id: Path
    pid: Path
    out: Path

    @property
    def marker(self) -> Path:
        """Written after a complete jar fetch: pom hash + jar names."""
        return self.lib / ".complete"

    @classmethod
    def of(cls, settings: ClusterSettings) -> KafkaPaths:
        root = settings.local_dir / "kafka"
        return cls(
            root=root,
            lib=root / "lib",
            m2=settings.local_dir / "m2",
            data=root / "data",
            logs=root / "logs",
            config=root / "server.properties",
            cluster_id=root / "cluster.id",
            pid=root / "kafka.pid",
            out=root / "logs" / "kafka.out",
        )


def markers(settings: ClusterSettings) -> tuple[str, ...]:
    """What the broker's command line contains (used to trust its pid file)."""
    return (MAIN_CLASS, str(KafkaPaths.of(settings).config))


# -- jars ------------------------------------------------------------------------------


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def jars_complete(paths: KafkaPaths) -> bool:
    """True when the marker matches the current pom and every jar it lists is present."""
    try:
        lines = paths.marker.read_text().splitlines()
    except FileNotFoundError:
        return False
    if not lines or lines[0] != f"pom-sha256 {_pom_digest()}" or len(lines) < 2:
        return False
    return all((paths.lib / name).is_file() for name in lines[1:])


@dataclass(frozen=True)
class JarFetch:
    fetched: bool
    seconds: float
    jars: int


def fetch_jars(settings: ClusterSettings, say: Say = _quiet) -> JarFetch:
    """Copy the broker's jars into ``<local_dir>/kafka/lib`` once (skipped when complete)."""
    paths = KafkaPaths.of(settings)
    if jars_complete(paths):
        return JarFetch(False, 0.0, sum(1 for _ in paths.lib.glob("*.jar")))
    if not POM.is_file():
        raise RuntimeError(f"{POM} is missing: run `encore cluster up` from a source checkout")
    mvn = process.ensure_command("mvn", "maven")
    process.ensure_command("java", "openjdk-17-jre-headless")
    # A half-finished or outdated lib dir would put two versions on the classpath.
    if paths.lib.exists():
        shutil.rmtree(paths.lib)
    paths.lib.mkdir(parents=True)
    say("fetching Kafka jars with Maven (once)")
    started = time.monotonic()
    done = subprocess.run(
        [
            mvn, "-B", "-q", "-f", str(POM), "dependency:copy-dependencies",
            f"-DoutputDirectory={paths.lib}", f"-Dmaven.repo.local={paths.m2}",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    jars = sorted(p.name for p in paths.lib.glob("*.jar"))
    if done.returncode != 0 or not any(name.startswith("kafka_2.13-") for name in jars):
        raise RuntimeError(
            f"Maven could not fetch the Kafka jars (exit {done.returncode}):\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    paths.marker.write_text("\n".join([f"pom-sha256 {_pom_digest()}", *jars]) + "\n")
    return JarFetch(True, seconds, len(jars))


# -- configuration and storage ----------------------------------------------------------


def render_server_properties(settings: ClusterSettings) -> dict[str, str]:
    """``server.properties`` of a single KRaft node that is both broker and controller."""
    paths = KafkaPaths.of(settings)
    host, node = settings.host, settings.kafka_node_id
    return {
        "process.roles": "broker,controller",
        "node.id": str(node),
        "controller.quorum.voters": f"{node}@{host}:{settings.kafka_controller_port}",
        "listeners": (
            f"PLAINTEXT://{host}:{settings.kafka_port},"
            f"CONTROLLER://{host}:{settings.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{host}:{settings.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(paths.data),
        "num.partitions": str(settings.plays_partitions),
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        # 50 by default: needless work for one small machine.
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        # A consumer group's first rebalance waits 3 s by default; tests and demos need not.
        "group.initial.rebalance.delay.ms": "0",
        # Replayed plays carry their historic event time (years ago): time-based
        # retention would delete them within minutes. Keep everything locally.
        "log.retention.ms": "-1",
        "log.retention.check.interval.ms": "300000",
        # After a kill -9 the new broker cannot register until the old registration's
        # session expires (9 s by default, measured 14 s to ready): shorten it.
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "5000",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
    }


def server_properties_text(settings: ClusterSettings) -> str:
    body = "".join(f"{k}={v}\n" for k, v in render_server_properties(settings).items())
    return "# Written by `encore cluster up`; edits are overwritten.\n" + body


def write_server_properties(settings: ClusterSettings) -> Path:
    paths = KafkaPaths.of(settings)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(server_properties_text(settings))
    return paths.config


def config_matches(settings: ClusterSettings) -> bool:
    """Whether the ``server.properties`` on disk is the one these settings would write."""
    try:
        return KafkaPaths.of(settings).config.read_text() == server_properties_text(settings)
    except FileNotFoundError:
        return False


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID, base64url without padding (22 characters)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):  # Kafka avoids these too: they read as CLI flags
            return cid


def _java() -> str:
    return process.ensure_command("java", "openjdk-17-jre-headless")


def _jvm_args(settings: ClusterSettings) -> list[str]:
    paths = KafkaPaths.of(settings)
    return [
        f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={paths.logs}",
        f"-Dlog4j.configuration=file:{LOG4J}",
        "-cp",
        f"{paths.lib}/*",
    ]


def format_storage(settings: ClusterSettings) -> bool:
    """Run ``kafka.tools.StorageTool format`` unless ``log.dirs`` is already formatted.

    Returns True when it formatted. The cluster id is persisted in ``cluster.id``.
    """
    paths = KafkaPaths.of(settings)
    if (paths.data / "meta.properties").is_file():
        return False
    paths.data.mkdir(parents=True, exist_ok=True)
    if paths.cluster_id.is_file():
        cid = paths.cluster_id.read_text().strip()
    else:
        cid = new_cluster_id()
        paths.cluster_id.write_text(cid + "\n")
    done = subprocess.run(
        [
            _java(), *_jvm_args(settings), "kafka.tools.StorageTool", "format",
            "-t", cid, "-c", str(paths.config), "--ignore-formatted",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(
            f"kafka.tools.StorageTool format failed ({done.returncode}):\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    return True


# -- running ----------------------------------------------------------------------------


def start(settings: ClusterSettings) -> int:
    """Launch the broker detached; write its pid file; return the pid (not yet ready)."""
    paths = KafkaPaths.of(settings)
    paths.logs.mkdir(parents=True, exist_ok=True)
    argv = [_java(), *_jvm_args(settings), MAIN_CLASS, str(paths.config)]
    pid = process.spawn_detached(argv, paths.out, cwd=paths.root)
    process.write_pid(paths.pid, pid)
    return pid


@contextlib.contextmanager
def _kafka_logs_silenced() -> Iterator[None]:
    """kafka-python warns loudly while a broker is still starting; a probe expects that."""
    logger = logging.getLogger("kafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def answers(settings: ClusterSettings, timeout: float = 3.0) -> bool:
    """True when a Kafka broker on ``host:kafka_port`` answers a metadata request."""
    if not process.port_open(settings.host, settings.kafka_port, timeout=min(timeout, 1.0)):
        return False
    from kafka.admin import KafkaAdminClient  # import late: kafka-python is slowish

    ms = int(timeout * 1000)
    with _kafka_logs_silenced():
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=f"{settings.host}:{settings.kafka_port}",
                client_id="encore-cluster-probe",
                bootstrap_timeout_ms=ms,
                request_timeout_ms=ms,
            )
        except Exception:
            return False
        try:
            info = admin.describe_cluster()
            return bool(info.get("brokers"))
        except Exception:
            return False
        finally:
            admin.close()
