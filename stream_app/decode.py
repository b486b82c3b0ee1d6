"""Turning one `plays` message into a play, or into a dead letter with the reason.

>>> play_or_reason(b'{"user_id": "ana", "track_id": "t1", "played_at": "2024-01-01T00:00:00Z"}').user_id
'ana'
>>> play_or_reason(b'\\xff\\xfe')
'not UTF-8 JSON: invalid JSON'
>>> play_or_reason(b'{"user_id": "", "track_id": "t1", "played_at": "2024-01-01T00:00:00Z"}')
'user_id: String should have at least 1 character'
>>> play_or_reason(b'{"user_id": "a", "track_id": "t", "played_at": "3000-01-01T00:00:00Z"}')
'played_at: Value error, played_at 3000-01-01T00:00:00+00:00 is in the future'
"""

from __future__ import annotations

from pydantic import ValidationError

from models.events import PlayEvent

#: Larger messages are refused before parsing.
MAX_MESSAGE_BYTES = 64 * 1024


def play_or_reason(raw: bytes | None) -> PlayEvent | str:
    """Decode a message value; on failure return a one-line reason instead of raising."""
    if raw is None:
        return "empty message"
    if len(raw) > MAX_MESSAGE_BYTES:
        return f"message of {len(raw)} bytes exceeds {MAX_MESSAGE_BYTES}"
    try:
        return PlayEvent.from_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "json_invalid":
            return "not UTF-8 JSON: invalid JSON"
        return "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'message'}: {err['msg']}" for err in errors[:3]
        )
