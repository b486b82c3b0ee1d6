"""Helpers for the parser tests: the real shared data files, parsed once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.parsers import ParseReport, parse_paths

SHARED = Path(__file__).resolve().parents[5] / "shared" / "data"
SPOTIFY = SHARED / "spotify_exports"
JODIE = SHARED / "lastfm_jodie" / "lastfm.tsv.gz"


def need(path: Path) -> Path:
    """``path`` if present; CI must have the shared data, a developer may not."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not present: {path}")
    return path


_CACHE: dict[str, ParseReport] = {}


def parsed(name: str) -> ParseReport:
    """The report of one shared Spotify folder (or ``jodie``), parsed once."""
    if name not in _CACHE:
        path = need(JODIE if name == "jodie" else SPOTIFY / name)
        _CACHE[name] = parse_paths([path])
    return _CACHE[name]
