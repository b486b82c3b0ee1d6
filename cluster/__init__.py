"""The project's own local cluster: Apache Kafka (KRaft, from Maven Central jars) and Redis.

`encore cluster up` and the integration tests start the same real processes through
this package; nothing here is a mock.
"""
