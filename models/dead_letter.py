"""The dead-letter contract: what lands on `plays-dlq` when a record cannot be a play.

A dead letter names the record (where it came from) and the reason, and keeps a
bounded prefix of the raw bytes so a person can see what arrived.

>>> letter = DeadLetter.for_raw(b'{"user_id": 1', reason="invalid JSON", origin="worker",
...                             location="plays[3]@1207")
>>> letter.raw
'{"user_id": 1'
>>> DeadLetter.model_validate_json(letter.to_json()).reason
'invalid JSON'
>>> len(DeadLetter.for_raw(b"x" * 10_000_000, reason="too big", origin="worker").raw)
2048
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: Bytes of the original record kept in a dead letter.
RAW_PREFIX = 2048


class DeadLetter(BaseModel):
    """A record refused by a producer or a worker, with the reason."""

    model_config = ConfigDict(frozen=True)

    reason: str
    #: Who refused it: ``replay``, ``poller``, ``worker``.
    origin: str
    #: Where the record was: ``file:line``, ``topic[partition]@offset``...
    location: str | None = None
    #: First RAW_PREFIX bytes of the record, decoded with replacement characters.
    raw: str | None = None

    @classmethod
    def for_raw(
        cls, raw: bytes | str | None, *, reason: str, origin: str, location: str | None = None
    ) -> DeadLetter:
        text: str | None
        if raw is None:
            text = None
        elif isinstance(raw, bytes):
            text = raw[:RAW_PREFIX].decode("utf-8", errors="replace")
        else:
            text = raw[:RAW_PREFIX]
        return cls(reason=reason[:1000], origin=origin, location=location, raw=text)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode("utf-8")
