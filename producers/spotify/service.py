"""Wiring: settings -> token store, Kafka sink, Redis cursors -> :class:`Poller`."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import redis

from cluster.settings import ClusterSettings
from producers.spotify.backoff import Clock
from producers.spotify.poller import ListenerReport, Poller
from producers.spotify.settings import SpotifySettings
from producers.spotify.sinks import KafkaPlaySink, RedisCursorStore, redis_client
from producers.spotify.tokens import FileTokenStore, ListenerTokenStore, RedisTokenStore


def token_store(
    settings: SpotifySettings, cluster: ClusterSettings, client: redis.Redis | None = None
) -> ListenerTokenStore:
    if settings.token_store == "redis":
        return RedisTokenStore(client or redis_client(cluster), cluster.redis_prefix)
    return FileTokenStore(settings.token_dir)


def choose_listeners(
    requested: Sequence[str], settings: SpotifySettings, store: ListenerTokenStore
) -> list[str]:
    """Named on the command line, else configured, else every listener with a token."""
    return list(requested) or list(settings.listeners) or store.listeners()


def build_poller(
    settings: SpotifySettings,
    cluster: ClusterSettings,
    listeners: Sequence[str] = (),
    *,
    topic: str | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    on_report: Callable[[ListenerReport], None] | None = None,
) -> Poller:
    client = redis_client(cluster)
    tokens = token_store(settings, cluster, client)
    names = choose_listeners(listeners, settings, tokens)
    if not names:
        raise ValueError("no listeners to poll: run `encore auth --listener NAME` first")
    return Poller(
        settings,
        names,
        tokens=tokens,
        sink=KafkaPlaySink(cluster, topic=topic),
        cursors=RedisCursorStore(client, cluster.redis_prefix),
        clock=clock,
        rng=rng,
        on_report=on_report,
    )
