"""The streaming JSON reader: any layout, any chunk boundary, broken records cost only themselves."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.parsers.json_stream import NotJson, iter_json_records

RECORDS = [{"ts": "2023-06-26T22:56:26Z", "n": i, "name": 'Jóga "x" }{ ,'} for i in range(5)]


def _values(text: str, chunk_size: int = 1 << 16) -> list[object]:
    return [r.value for r in iter_json_records(io.StringIO(text), chunk_size=chunk_size)]


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(RECORDS),
        json.dumps(RECORDS, indent=2),
        json.dumps(RECORDS, indent="\t", ensure_ascii=False),
        "\n".join(json.dumps(r) for r in RECORDS) + "\n",  # JSON Lines
        json.dumps(RECORDS)[:-1] + ",]",  # trailing comma
    ],
    ids=["compact", "pretty", "tabs-unicode", "json-lines", "trailing-comma"],
)
def test_every_layout_gives_the_same_records(text: str) -> None:
    assert _values(text) == RECORDS


@given(st.integers(1, 64))
@settings(max_examples=30, deadline=None)
def test_chunk_boundaries_do_not_matter(chunk_size: int) -> None:
    text = json.dumps(RECORDS, indent=1) + "\n"
    records = list(iter_json_records(io.StringIO(text), chunk_size=chunk_size))
    assert [r.value for r in records] == RECORDS
    assert [r.line for r in records] == [2 + 5 * i for i in range(5)]
    assert [r.number for r in records] == [1, 2, 3, 4, 5]


def test_a_broken_record_is_reported_with_its_place_and_reading_goes_on() -> None:
    text = '[\n{"a": 1},\n{"a": 2,, "b": 3},\n{"a": 3}\n]\n'
    records = list(iter_json_records(io.StringIO(text), chunk_size=4))
    assert [(r.number, r.line, r.value) for r in records] == [
        (1, 2, {"a": 1}),
        (2, 3, None),
        (3, 4, {"a": 3}),
    ]
    assert records[1].error is not None and records[1].error.startswith("invalid JSON")
    assert records[1].raw.startswith('{"a": 2,,')


def test_truncated_file_keeps_the_records_before_the_cut() -> None:
    text = json.dumps(RECORDS)[:-40]
    records = list(iter_json_records(io.StringIO(text)))
    assert [r.value for r in records[:4]] == RECORDS[:4]
    assert records[-1].error is not None and records[-1].number == 5


def test_missing_closing_bracket_and_trailing_text_are_errors() -> None:
    (one, missing) = iter_json_records(io.StringIO('[{"a": 1}'))
    assert one.value == {"a": 1} and missing.error == "file ends before the closing ]"
    (_, trailing) = iter_json_records(io.StringIO('[{"a": 1}] junk'))
    assert trailing.error == "unexpected text after the closing ]"


def test_hostile_input_gives_errors_not_crashes() -> None:
    (deep,) = iter_json_records(io.StringIO("[" * 100_000))
    assert deep.error == "invalid JSON (nested too deeply)"
    (huge,) = iter_json_records(io.StringIO('[{"n": ' + "9" * 5000 + "}]"))
    assert huge.error is not None and huge.value is None


def test_empty_and_non_json() -> None:
    assert _values("") == [] and _values(" \n ") == [] and _values("[]") == []
    with pytest.raises(NotJson):
        list(iter_json_records(io.StringIO("user_id,track_id\n")))
