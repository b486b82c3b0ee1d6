"""The project's own local cluster: Apache Kafka (KRaft, from Maven Central jars) and Redis.

`encore cluster up` and the integration tests start the same real processes through
this package; nothing here is a mock. The API:

* ``up(settings) -> ClusterStatus``: start or reuse Kafka and Redis, create the topics.
* ``down(settings)``: stop only what encore started (pid files).
* ``status(settings) -> ClusterStatus``: look, change nothing.
"""

from cluster.local import Action, ClusterStatus, ServiceStatus, down, status, up
from cluster.settings import ClusterSettings

__all__ = ["Action", "ClusterSettings", "ClusterStatus", "ServiceStatus", "down", "status", "up"]
