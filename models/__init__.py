"""Pure, Kafka-free code shared by the offline and the streaming paths.

Nothing in this package imports faust, kafka or redis.
"""
