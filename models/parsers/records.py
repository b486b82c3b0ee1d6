"""Turning one record's fields into a `PlayEvent`, or a short reason why not.

Every parser builds its plays here, so every format rejects a bad time, an empty
listener or an impossible duration with the same words.

>>> event = build_event(user_id="ana", track_id="t1",
...                     played_at=parse_timestamp("2024-03-01 20:15"), source="csv")
>>> event.played_at.isoformat()
'2024-03-01T20:15:00+00:00'
>>> build_event(user_id=" ", track_id="t1", played_at=event.played_at)
'empty user_id'
>>> build_event(user_id="ana", track_id="t1", played_at=parse_timestamp("1999-12-31T23:00Z"))
'played_at 1999-12-31T23:00:00+00:00 is before 2000-01-01'
>>> parse_timestamp("yesterday")
Traceback (most recent call last):
...
ValueError: bad timestamp 'yesterday' (expected ISO-8601)
>>> whole_ms(1.0e3), whole_ms(None)
(1000, None)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from models.events import PlayEvent, track_key

T = TypeVar("T")

#: Plays so far of one file per (listener, track, minute), where its times stop at the
#: minute: the k-th identical row is a replay in that minute and gets ``seq=k``
#: (Spotify's account data, and CSVs made from it).
SameMinute = Counter[tuple[str, str, datetime]]


def _quote(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)


#: Zone names some exporters write after an ISO-8601 time; both are UTC.
_UTC_NAMES = (" utc", " gmt")


def parse_timestamp(text: str) -> datetime:
    """An ISO-8601 time; a naive one is taken as UTC, and so is one that ends in the
    zone name ``UTC`` or ``GMT`` (as some exporters and spreadsheets write it). Raises
    ``ValueError`` with a reason.

    >>> parse_timestamp("2023-01-05 14:23:00 UTC").isoformat()
    '2023-01-05T14:23:00+00:00'
    >>> parse_timestamp("2023-01-05T14:23:00Z gmt") == parse_timestamp("2023-01-05 14:23:00 UTC")
    True
    >>> parse_timestamp("2023-01-05 14:23:00+01:00 GMT")
    Traceback (most recent call last):
    ...
    ValueError: bad timestamp '2023-01-05 14:23:00+01:00 GMT' (an offset and a zone name)
    """
    value = text.strip()
    named_utc = value[-4:].casefold() in _UTC_NAMES
    if named_utc:
        value = value[:-4].rstrip()
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad timestamp {_quote(text)} (expected ISO-8601)") from None
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        stamp = stamp.replace(tzinfo=UTC)
    elif named_utc and stamp.utcoffset():
        raise ValueError(f"bad timestamp {_quote(text)} (an offset and a zone name)")
    return stamp


def whole_ms(value: object, name: str = "ms_played") -> int | None:
    """A JSON duration as a whole number of ms (``None`` stays ``None``).

    Raises ``ValueError`` for text, booleans, fractions, infinities and negatives.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} {_quote(str(value))} is not a number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{name} {value!r} is not a whole number")
        value = int(value)
    if value < 0:
        raise ValueError(f"negative {name} {value}")
    return value


def checked(problems: list[str], read: Callable[..., T], *args: Any) -> T | None:
    """``read(*args)``; when it raises ``ValueError``, ``None`` and the reason added to
    ``problems`` (a row reports every bad field at once)."""
    try:
        return read(*args)
    except ValueError as error:
        problems.append(str(error))
        return None


def text_field(record: dict[str, Any], key: str) -> str | None:
    """A JSON string field, ``None`` when missing, null or blank; raises for non-text."""
    value = record.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not text ({_quote(str(value))})")
    return value if value.strip() else None


def username(record: dict[str, Any]) -> str | None:
    """A Spotify row's ``username`` (text, or a number written without quotes), if any."""
    value = record.get("username")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_field(record, "username")


def name_key(artist_name: str, track_name: str) -> str:
    """`track_key` of the names; ``ValueError`` when they hold bytes that are not UTF-8."""
    try:
        return track_key(artist_name, track_name)
    except UnicodeEncodeError:
        raise ValueError("artist or track name is not valid UTF-8 text") from None


def _describe(error: ValidationError) -> str:
    reasons = []
    for item in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in item["loc"]) or "record"
        kind = item["type"]
        if kind == "string_too_short":
            reasons.append(f"empty {name}")
        elif kind == "string_too_long":
            reasons.append(f"{name} is too long")
        elif kind == "value_error":
            reasons.append(str(item["msg"]).removeprefix("Value error, "))
        else:
            reasons.append(f"{name}: {item['msg']}")
    return "; ".join(reasons)


def _unencodable(fields: dict[str, Any]) -> str | None:
    for name, value in fields.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{name} is not valid UTF-8 text"
    return None


def build_event(**fields: Any) -> PlayEvent | str:
    """A validated play from ``fields``, or the reason it is not one (as a string)."""
    bad_text = _unencodable(fields)
    if bad_text is not None:
        return bad_text
    try:
        return PlayEvent(**fields)
    except ValidationError as error:
        return _describe(error)
