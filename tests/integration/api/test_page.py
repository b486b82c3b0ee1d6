"""The web page in headless Debian Chromium (playwright's python API), against a live
`encore api` on real Redis: what the page shows equals what Redis holds, and it follows
changes while the stream runs. Saves reports/page.png.

Needs /usr/bin/chromium (Debian package ``chromium``); skipped with that reason if absent.
Installs nothing itself.
"""

# Fixtures come from api_harness by import; their names are parameters that
# "redefine" the imports.
# ruff: noqa: F811

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import redis
from api_harness import (
    REPO,
    LiveApi,
    RedisServer,
    Seeded,
    raw,  # noqa: F401
    redis_server,  # noqa: F401
    seeded,  # noqa: F401
    start_live_api,
    stop_live_api,
    writer,  # noqa: F401
)

from stream_app.recs_store import MetricsPoint, RecItem, RecsWriter, UserRecs

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = REPO / "reports" / "page.png"
WAIT_MS = 15_000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is absent: apt-get install --no-install-recommends chromium",
    ),
]


@pytest.fixture
def live_api(redis_server: RedisServer, seeded: Seeded, tmp_path: Path) -> Iterator[LiveApi]:
    api = start_live_api(redis_server, tmp_path, refresh_s=1.0)
    yield api
    stop_live_api(api)


@pytest.fixture
def page(live_api: LiveApi) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.hosts = set()  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda msg: page.problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "404" not in msg.text
            else None,
        )
        page.on("request", lambda req: page.hosts.add(urlparse(req.url).netloc))
        page.goto(live_api.base_url + "/")
        yield page
        context.close()
        browser.close()


def redis_recs(raw: redis.Redis, user: str, k: int) -> list[dict[str, Any]]:
    rows = []
    for tid, score in raw.zrevrange(f"encore:recs:{user}", 0, k - 1, withscores=True):
        track = raw.hgetall(b"encore:track:" + tid)
        reason = raw.hget(f"encore:recs-reasons:{user}", tid)
        rows.append(
            {
                "id": tid.decode(),
                "score": score,
                # A track without a known name is shown by its id.
                "name": track.get(b"name", tid).decode(),
                "artist": track.get(b"artist", b"").decode() or "–",
                "reason": reason.decode() if reason else "",
            }
        )
    return rows


def shown_recs(page: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#recs tbody tr[data-track-id]",
        """rows => rows.map(r => ({
            id: r.dataset.trackId, score: Number(r.dataset.score),
            shown: r.querySelector('.score-value').textContent,
            name: r.cells[1].textContent, artist: r.cells[2].textContent,
            reason: r.cells[4].textContent }))""",
    )
    return rows


def wait_for_user(page: Any, user: str) -> None:
    page.wait_for_function(
        "u => document.body.dataset.loadedUser === u"
        " && document.querySelectorAll('#recs tbody tr[data-track-id]').length > 0",
        arg=user,
        timeout=WAIT_MS,
    )


def assert_page_equals_redis(page: Any, raw: redis.Redis, user: str) -> None:
    shown = shown_recs(page)
    held = redis_recs(raw, user, 20)  # the page asks for k=20
    assert [r["id"] for r in shown] == [h["id"] for h in held]
    for row, want in zip(shown, held, strict=True):
        assert row["score"] == pytest.approx(want["score"], abs=1e-12)
        assert abs(float(row["shown"]) - want["score"]) <= 0.0005 + 1e-9
        assert (row["name"], row["artist"], row["reason"]) == (
            want["name"], want["artist"], want["reason"],
        )


def test_page_shows_what_redis_holds(
    page: Any, raw: redis.Redis, writer: RecsWriter, seeded: Seeded
) -> None:
    user, other = seeded.users[0], seeded.users[1]
    page.wait_for_selector(f'#listener-select option[value="{user}"]', state="attached",
                           timeout=WAIT_MS)
    page.select_option("#listener-select", user)
    wait_for_user(page, user)
    assert_page_equals_redis(page, raw, user)

    # Recent plays: newest first, as stored.
    page.wait_for_selector("#plays tbody tr[data-track-id]", timeout=WAIT_MS)
    plays = page.eval_on_selector_all("#plays tbody tr[data-track-id]",
                                      "rows => rows.map(r => r.dataset.trackId)")
    stored = [json.loads(x)["track_id"] for x in raw.lrange(f"encore:history:{user}", 0, 19)]
    assert plays == stored and len(plays) == 20

    # Header and charts come from model:latest and model:history.
    page.wait_for_function(
        "v => document.getElementById('model-version').textContent === v",
        arg=seeded.model_version, timeout=WAIT_MS,
    )
    n_points = raw.xlen("encore:model:history")
    page.wait_for_function(
        "n => document.getElementById('pps-chart').dataset.points === String(n)",
        arg=n_points, timeout=WAIT_MS,
    )
    auc_points = int(page.get_attribute("#auc-chart", "data-points") or 0)
    assert auc_points >= n_points - 1
    assert page.locator("#auc-chart path.line").count() == 1
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # Typing a listener works too; an unknown one says so.
    page.fill("#listener-input", other)
    page.click("#listener-form button")
    wait_for_user(page, other)
    assert_page_equals_redis(page, raw, other)
    page.fill("#listener-input", "nobody-here")
    page.click("#listener-form button")
    page.wait_for_function(
        "() => document.getElementById('recs-meta').textContent.includes('unknown')",
        timeout=WAIT_MS,
    )
    assert page.locator("#recs tbody tr[data-track-id]").count() == 0

    # While the stream runs: the scorer rewrites the list and the trainer adds a point;
    # the page follows without a reload.
    page.select_option("#listener-select", user)
    wait_for_user(page, user)
    fresh = [RecItem(track_id=h["id"], score=h["score"] / 2, reason=h["reason"] or None)
             for h in redis_recs(raw, user, 20)][:5]
    fresh.insert(0, RecItem(track_id="t:brand-new", score=0.99, reason="just replayed"))
    writer.write_recommendations(
        UserRecs(user_id=user, items=fresh, model_version="v-next",
                 scored_at=datetime.now(UTC), as_of_event_time=datetime.now(UTC))
    )
    writer.record_metrics(MetricsPoint(event_time=datetime.now(UTC).timestamp(),
                                       wall_time=datetime.now(UTC).timestamp(), auc=0.8,
                                       examples=1, plays_per_second=1234.0))
    page.wait_for_function(
        "() => document.querySelector('#recs tbody tr')?.dataset.trackId === 't:brand-new'",
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        "n => document.getElementById('pps-chart').dataset.points === String(n)",
        arg=n_points + 1, timeout=WAIT_MS,
    )
    assert_page_equals_redis(page, raw, user)
    assert "v-next" in (page.text_content("#recs-meta") or "")

    assert page.problems == []  # type: ignore[attr-defined]
    # Nothing but our own server was contacted (no CDN, no outside fonts).
    assert page.hosts == {urlparse(page.url).netloc}  # type: ignore[attr-defined]
