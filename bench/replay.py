"""replay: the whole bundled Last.fm file through ``encore replay --max`` and back (issue 3).

:func:`cli.replay.publish` (the command's own code: parse, event-time order, send,
flush) into a fresh 8-partition topic; then every message between the offsets before
and after is consumed back (:func:`producers.readback.read_between`). Checked: same
count, same event ids (as multisets). Rates: the replay loop (what ``encore replay``
prints), the whole command including parsing, and the read-back; beside kafka-python
pushing the same plays as pre-serialised bytes into another fresh topic (the ceiling).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from bench.common import LASTFM, Result, Row, cluster, drop_run, fresh_run, load_lastfm
from bench.ingest import _ceiling
from producers.publish import publish
from producers.readback import end_offsets, read_between

NAME = "replay"


def run(**_: Any) -> Result:
    cluster()
    ns, settings = fresh_run("replay")
    try:
        before = end_offsets(settings, settings.plays_topic)
        t0 = time.perf_counter()
        stats, dead = publish([LASTFM], settings=settings, speed=None, quiet=True)
        command_s = time.perf_counter() - t0
        after = end_offsets(settings, settings.plays_topic)
        back = read_between(settings, settings.plays_topic, before, after)
    finally:
        drop_run(ns.run_id, settings)
    same_ids = Counter(back.event_ids) == Counter(stats.event_ids)
    plays = load_lastfm()
    raw = [(p.user_id.encode("utf-8"), p.to_json()) for p in plays]
    ns2, settings2 = fresh_run("replay-ceiling")
    try:
        ceiling, _cpu = _ceiling(raw, settings2)
    finally:
        drop_run(ns2.run_id, settings2)
    rows = [
        Row(key="replayed_equal", figure="plays replayed = plays read back, same event ids",
            value=float(back.messages), unit="plays", baseline="plays sent", baseline_value=float(stats.sent),
            target="same count, same ids", passed=same_ids and back.messages == stats.sent),
        Row(key="replay_rate", figure="`encore replay --max` rate (send loop)", value=stats.rate,
            unit="plays/s", baseline="kafka-python, pre-serialised bytes", baseline_value=ceiling),
        Row(key="replay_command_rate", figure="whole command incl. parsing the file", unit="plays/s",
            value=stats.sent / command_s, baseline="kafka-python, pre-serialised bytes",
            baseline_value=ceiling),
        Row(key="readback_rate", figure="read back (kafka-python consumer, decode ids)", unit="plays/s",
            value=back.rate),
    ]  # fmt: skip
    return Result(
        name=NAME,
        parameters={"file": str(LASTFM.name), "partitions": settings.plays_partitions, "speed": "max"},
        rows=rows,
        figures={
            "sent": stats.sent,
            "read_back": back.messages,
            "undecodable": back.undecodable,
            "dead_letters": dead,
            "listeners": len(stats.users),
            "same_event_ids": same_ids,
            "distinct_event_ids": len(set(stats.event_ids)),
            "replay_seconds": stats.seconds,
            "command_seconds": command_s,
            "readback_seconds": back.seconds,
            "first_played_at": stats.first_played_at,
            "last_played_at": stats.last_played_at,
        },
    )
