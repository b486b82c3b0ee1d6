"""A stream of hostile events: each lands in the DLQ with its reason, or is deduplicated
(or ignored as stale), the worker keeps going, and the counts add up exactly.

Real plays (the first 4,000 of the bundled Last.fm file) go in before and after a burst
of hostile messages sent as raw bytes: wrong types, missing fields, 1 MB strings, years
3000 and 1970, naive and impossible timestamps, non-UTF-8 bytes, truncated and deeply
nested JSON, a tombstone, an unknown field, a play keyed unlike its listener, and
duplicates (byte for byte, and re-encoded with a forged event id). Afterwards:

* the worker's counters: plays + shorts + duplicates + stale + dead letters = messages
  sent, and each term is the number this test sent of that kind;
* the DLQ holds exactly one letter per hostile message (found by its partition and
  offset in `plays`), with the expected reason and at most 2 KB of the raw bytes;
* the listener table equals the offline path over the accepted messages: the hostile
  ones changed no listener, the duplicates counted once;
* the worker never crashed.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka.partitioner.default import murmur2

from cluster import ClusterSettings
from models.dead_letter import RAW_PREFIX
from models.events import PlayEvent
from producers.kafka_io import PlayProducer
from stream_app.fleet import totals
from tests.faults.harness import (
    assert_same_end_state,
    lastfm_slice,
    read_topic,
    stream_run,
    wait_drained,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(180)]

BEFORE, AFTER = 2000, 2000
MB = 1_000_000


@dataclass(frozen=True)
class Sent:
    key: bytes | None
    value: bytes | None
    #: play / short / duplicate / stale / dlq
    kind: str
    #: For a dead letter: a regular expression its reason must match.
    reason: str = ""


def _doc(
    user: str = "hostile-a", track: str = "t", at: str = "2009-01-20T00:00:00Z", **extra: object
) -> dict:
    return {"user_id": user, "track_id": track, "played_at": at, **extra}


def _raw(doc: object) -> bytes:
    return json.dumps(doc).encode()


def _partition(key: str, partitions: int) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def hostile_messages(after: datetime, partitions: int) -> list[Sent]:
    """Every hostile message once (values unique, so each is found again by its bytes)."""
    at = (after + timedelta(minutes=5)).isoformat()
    k = b"hostile-a"
    other = next(f"someone-{i}" for i in range(100) if _partition(f"someone-{i}", partitions)
                 != _partition("hostile-mis", partitions))  # fmt: skip
    out = [
        # wrong types
        Sent(k, _raw(_doc(user=12, at=at)), "dlq", r"^user_id: Input should be a valid string"),
        Sent(k, _raw(_doc(at=at, ms_played="long")), "dlq", r"^ms_played: .*valid integer"),
        Sent(k, _raw(_doc(at=at, ms_played=-5)), "dlq", r"^ms_played: .*greater than or equal to 0"),
        Sent(k, _raw(_doc(at=at, skipped="maybe")), "dlq", r"^skipped: .*valid boolean"),
        Sent(k, _raw(_doc(at=[1, 2])), "dlq", r"^played_at: "),
        Sent(k, _raw(_doc(at=at, seq=1e9)), "dlq", r"^seq: "),
        Sent(k, _raw(_doc(track={"id": 1}, at=at)), "dlq", r"^track_id: Input should be a valid string"),
        Sent(
            k,
            b'{"user_id": "hostile-a", "track_id": "t", "played_at": "%s", "ms_played": 1e400}' % at.encode(),
            "dlq",
            r"^ms_played: ",
        ),
        # missing fields and not an object
        Sent(k, _raw({"user_id": "hostile-a", "played_at": at}), "dlq", r"^track_id: Field required"),
        Sent(k, _raw({"track_id": "t", "played_at": at}), "dlq", r"^user_id: Field required"),
        Sent(
            k, b"{}", "dlq", r"user_id: Field required; track_id: Field required; played_at: Field required"
        ),
        Sent(k, b"null", "dlq", r"^message: Input should be an object"),
        Sent(k, b"[1, 2]", "dlq", r"^message: Input should be an object"),
        Sent(k, b"42", "dlq", r"^message: Input should be an object"),
        Sent(b"hostile-empty", b"", "dlq", r"^not UTF-8 JSON: invalid JSON"),
        Sent(b"hostile-tombstone", None, "dlq", r"^empty message$"),
        # 1 MB strings, and an id just past the limit
        Sent(k, _raw(_doc(at=at, track_name="x" * MB)), "dlq", r"^message of \d+ bytes exceeds 65536"),
        Sent(k, _raw(_doc(user="u" * MB, at=at)), "dlq", r"^message of \d+ bytes exceeds 65536"),
        Sent(k, _raw(_doc(user="v" * 600, at=at)), "dlq", r"^user_id: String should have at most 512"),
        # timestamps
        Sent(k, _raw(_doc(at="3000-01-01T00:00:00Z")), "dlq", r"^played_at: .*is in the future"),
        Sent(k, _raw(_doc(at="1970-01-01T00:00:00Z")), "dlq", r"^played_at: .*is before 2000-01-01"),
        Sent(k, _raw(_doc(at="2009-01-20T00:00:00")), "dlq", r"^played_at: .*must carry a timezone"),
        Sent(k, _raw(_doc(at="2009-13-45T00:00:00Z")), "dlq", r"^played_at: .*month value is outside"),
        Sent(k, _raw(_doc(at=1e300)), "dlq", r"^played_at: "),
        Sent(k, _raw(_doc(at="NaN")), "dlq", r"^played_at: "),
        # bytes that are not UTF-8 JSON
        Sent(k, b"\xff\xfe\x00\x01 binary", "dlq", r"^not UTF-8 JSON"),
        Sent(
            k,
            b'{"user_id": "hostile-\xff", "track_id": "t", "played_at": "%s"}' % at.encode(),
            "dlq",
            r"^not UTF-8 JSON",
        ),
        Sent(
            k,
            b'{"user_id": "hostile-\xe9", "track_id": "t", "played_at": "%s"}' % at.encode(),
            "dlq",
            r"^not UTF-8 JSON",
        ),
        Sent(k, b'{"user_id": "hostile-a", "track', "dlq", r"^not UTF-8 JSON"),
        Sent(k, b"[" * 20_000, "dlq", r"^not UTF-8 JSON"),
        Sent(k, b'{"a": ' * 10_000, "dlq", r"^not UTF-8 JSON"),
        # an unknown field, and a play keyed unlike its listener
        Sent(k, _raw(_doc(at=at, admin=True)), "dlq", r"^admin: Extra inputs are not permitted"),
        Sent(
            other.encode(),
            _raw(_doc(user="hostile-mis", at=at)),
            "dlq",
            r"^listener 'hostile-mis' belongs to partition \d, not \d: the message key must be",
        ),
    ]
    return out


def test_hostile_events_are_dead_lettered_or_deduplicated(cluster: ClusterSettings, tmp_path: Path) -> None:
    started = time.monotonic()
    _, real = lastfm_slice(BEFORE + AFTER, tmp_path)
    first, second = real[:BEFORE], real[BEFORE:]
    with stream_run(cluster, "hostile", tmp_path) as run:
        partitions = run.settings.plays_partitions
        run.start_workers(1)

        sent: list[Sent] = []
        accepted: list[PlayEvent] = []  # in the order sent

        def play(p: PlayEvent, kind: str = "play") -> None:
            sent.append(Sent(p.user_id.encode(), p.to_json(), kind))
            accepted.append(p)

        for p in first:
            play(p)
        after = first[-1].played_at
        hostile = hostile_messages(after, partitions)
        sent.extend(hostile)
        # Accepted, but odd: a short play, a listener id in emoji, a 2005 play of a
        # listener already in 2009 (stale: older than the de-duplication window).
        play(PlayEvent(user_id="hostile-a", track_id="t", played_at=after + timedelta(minutes=1),
                       ms_played=1000), "short")  # fmt: skip
        play(PlayEvent(user_id="🎧 ütf-8 listener", track_id="t", played_at=after + timedelta(minutes=2)))
        play(PlayEvent(user_id=first[0].user_id, track_id="t", played_at=datetime(2005, 6, 1, tzinfo=UTC)),
             "stale")  # fmt: skip
        # Duplicates: byte for byte, and re-encoded (fields reordered, a forged event id,
        # another source) -- the id is derived from the play, so it is the same play.
        for p in first[100:130]:
            play(p, "duplicate")
        for p in first[200:205]:
            doc = dict(reversed(list(orjson.loads(p.to_json()).items())))
            doc.update(event_id="forged", source="elsewhere")
            sent.append(Sent(p.user_id.encode(), _raw(doc), "duplicate"))
            accepted.append(PlayEvent.model_validate(doc))
        for p in second:
            play(p)

        with PlayProducer(run.settings) as producer:
            for m in sent:
                producer.send_raw(m.key, m.value)  # type: ignore[arg-type]
        kinds = {kind: sum(1 for m in sent if m.kind == kind) for kind in ("play", "short", "duplicate",
                                                                           "stale", "dlq")}  # fmt: skip
        drain_s = wait_drained(run, messages=len(sent), deadline_s=120)

        # The counts add up, term by term.
        stats = totals(run.writer).raw
        [figures] = stats.values()
        got = {kind: int(figures.get(kind, 0)) for kind in ("play", "short", "duplicate", "stale")}
        got["dlq"] = int(figures.get("dead_letters", 0))
        assert got == kinds
        assert sum(got.values()) == len(sent) == int(figures["plays"] + figures["dead_letters"])

        # One letter per hostile message, found by where it was, with its reason.
        where = {}
        for partition, offset, _key, value in read_topic(run.settings, run.settings.plays_topic):
            where[(partition, offset)] = value
        by_value = {m.value: m for m in hostile}
        letters = [orjson.loads(v) for _p, _o, _k, v in read_topic(run.settings, run.settings.dlq_topic)]
        assert len(letters) == len(hostile)
        matched = set()
        for letter in letters:
            m = re.fullmatch(rf"{re.escape(run.settings.plays_topic)}\[(\d+)\]@(\d+)", letter["location"])
            assert m, letter["location"]
            value = where[(int(m.group(1)), int(m.group(2)))]
            spec = by_value[value]
            assert re.search(spec.reason, letter["reason"]), (letter["reason"], spec.reason)
            assert letter["origin"] == "worker"
            assert len(letter.get("raw") or "") <= RAW_PREFIX
            matched.add(value)
        assert len(matched) == len(hostile)

        # A listener's recent history shows each play once: the duplicates are not in it again.
        shown_twice = {}
        for user in {p.user_id for p in accepted}:
            history = run.writer.client.lrange(run.writer.keys.history(user), 0, -1)
            entries = [orjson.loads(e) for e in history]
            seen = [(e["track_id"], e["played_at"]) for e in entries]
            if len(set(seen)) != len(seen):
                shown_twice[user] = seen
        assert not shown_twice, shown_twice

        # The listeners are exactly what the accepted plays make of them.
        end = assert_same_end_state(run, accepted, arrival_order=True)
        assert end["plays"] == kinds["play"]
        assert end["late"] == 0  # the watermark never ran ahead of a partition
        assert run.died() is None
        log = run.worker_log(0)
        assert "Crashed" not in log and "Traceback" not in log, log[-3000:]
    print(
        f"\nhostile: {len(sent)} messages {kinds}; dead letters matched {len(matched)}; "
        f"end state {end}; drained in {drain_s:.1f} s; total {time.monotonic() - started:.1f} s"
    )
