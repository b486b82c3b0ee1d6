"""The examples in the poller's docstrings run (pytest collects doctests under tests/ only)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "producers.spotify.backoff",
    "producers.spotify.mapping",
    "producers.spotify.redact",
    "producers.spotify.settings",
    "producers.spotify.tokens",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
