"""schemathesis (CLI) against a live `encore api` (granian) on real Redis: every check, key off and on.

A fixed seed keeps CI reproducible; set ENCORE_SCHEMATHESIS_SEED to explore others.
"""

# Fixtures come from api_harness by import; their names are parameters that
# "redefine" the imports.
# ruff: noqa: F811

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from api_harness import (
    RedisServer,
    Seeded,
    raw,  # noqa: F401
    redis_server,  # noqa: F401
    seeded,  # noqa: F401
    start_live_api,
    stop_live_api,
    writer,  # noqa: F401
)

from stream_app.recs_store import RecItem, RecsWriter, UserRecs

pytestmark = pytest.mark.integration

ST = Path(sys.executable).with_name("st")


@pytest.mark.parametrize("api_key", [None, "schemathesis-key"], ids=["key-off", "key-on"])
def test_schemathesis_finds_no_issue(
    redis_server: RedisServer, writer: RecsWriter, seeded: Seeded, tmp_path: Path,
    api_key: str | None,
) -> None:
    # The schema's example id is "ana": make it a real listener so 200s get generated too.
    writer.write_recommendations(
        UserRecs(
            user_id="ana",
            items=[RecItem(track_id=t, score=0.5, reason="example") for t in ("a", "b")],
            model_version=seeded.model_version,
            scored_at=datetime.now(UTC),
            as_of_event_time=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    st = str(ST) if ST.exists() else shutil.which("st")
    assert st, "schemathesis CLI `st` not installed"
    api = start_live_api(redis_server, tmp_path, api_key=api_key)
    try:
        cmd = [
            st, "run", f"{api.base_url}/openapi.json",
            "--checks", "all",
            "--max-examples", "40",
            "--seed", os.environ.get("ENCORE_SCHEMATHESIS_SEED", "20261125"),
            "--workers", "2",
            "--request-timeout", "5",
            "--max-response-time", "4",
            "--report", "junit", "--report-dir", str(tmp_path / "st-report"),
        ]
        if api_key:
            cmd += ["--header", f"X-API-Key: {api_key}"]
        done = subprocess.run(
            cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-6000:]
        assert "No issues found" in output, output[-3000:]
        assert "8 selected / 8 total" in output  # every operation was tested
        assert "Traceback" not in api.log(), api.log()[-3000:]
    finally:
        stop_live_api(api)
