"""The poller through the real spotipy client against the fake Spotify over real HTTP.

Kafka and Redis are stood in for (a memory sink, fakeredis); time is a FakeClock shared
with the fake server, so an hour-long Retry-After passes instantly yet is verifiably
honoured: the server counts requests that arrive before it is over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from producers.spotify.backoff import BackoffPolicy, FakeClock
from producers.spotify.poller import Poller, Status
from producers.spotify.sinks import RedisCursorStore
from producers.spotify.tokens import FileTokenStore, TokenInfo
from tests.fakes.poller_support import MemorySink, expected_ids
from tests.fakes.spotify_server import FakeSpotify, ScriptedPlay, make_plays

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)

MakePoller = Callable[..., Poller]
Grant = Callable[[str], TokenInfo]


def ids(sink: MemorySink, user: str | None = None) -> list[str]:
    return [p.event_id for p in sink.plays if user is None or p.user_id == user]


def test_polls_everything_visible_then_only_new_plays(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore,
) -> None:
    authorised("ana")
    first = make_plays(30, start=START)
    fake.add_plays("ana", first)
    poller = make_poller(["ana"])
    reports = poller.run(once=True)
    assert reports["ana"].status is Status.OK
    assert ids(sink) == expected_ids("ana", first)  # oldest first, exactly once
    assert cursors.get("ana") == first[-1].ms

    poller.run(once=True)  # nothing new
    assert len(sink.plays) == 30

    later = make_plays(12, start=first[-1].played_at + timedelta(minutes=5), seed="b")
    fake.add_plays("ana", later)
    poller.run(once=True)
    assert ids(sink) == expected_ids("ana", first + later)
    assert cursors.get("ana") == later[-1].ms
    # The cursor went to Spotify as `after` (first poll without one).
    assert fake.stats.after_params[0] is None
    assert first[-1].ms in fake.stats.after_params


def test_restart_with_a_new_poller_neither_misses_nor_repeats(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink
) -> None:
    authorised("ana")
    plays = make_plays(45, start=START)
    fake.add_plays("ana", plays[:20])
    make_poller(["ana"]).run(once=True)
    fake.add_plays("ana", plays[20:])
    make_poller(["ana"]).run(once=True)  # a new object: only Redis remembers
    assert ids(sink) == expected_ids("ana", plays)


def test_a_failed_produce_does_not_move_the_cursor(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore, clock: FakeClock,
) -> None:
    authorised("ana")
    plays = make_plays(10, start=START)
    fake.add_plays("ana", plays)
    sink.fail_next = 2
    report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.OK
    assert ids(sink) == expected_ids("ana", plays)  # produced once, after two failures
    assert len(clock.sleeps) == 2  # backed off twice


def test_a_produce_failure_before_a_restart_loses_nothing(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore, settings: object,
) -> None:
    authorised("ana")
    plays = make_plays(10, start=START)
    fake.add_plays("ana", plays)
    sink.fail_next = 10**6
    from producers.spotify.settings import SpotifySettings

    assert isinstance(settings, SpotifySettings)
    stubborn = settings.model_copy(update={"max_attempts": 2})
    report = make_poller(["ana"], settings=stubborn).run(once=True)["ana"]
    assert report.status is Status.FAILED
    assert cursors.get("ana") is None
    sink.fail_next = 0
    make_poller(["ana"]).run(once=True)
    assert ids(sink) == expected_ids("ana", plays)


def test_long_retry_after_is_waited_out_and_warned_about(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    authorised("ana")
    plays = make_plays(8, start=START)
    fake.add_plays("ana", plays)
    fake.fail_next(429, retry_after=7200)
    t0 = clock.now()
    with caplog.at_level(logging.INFO, logger="producers.spotify"):
        report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.OK
    assert ids(sink) == expected_ids("ana", plays)
    assert fake.stats.answered_429 == 1
    assert fake.stats.early_after_429 == 0  # never asked again before Retry-After was over
    assert clock.now() - t0 >= 7200
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("7200" in r.getMessage() and "Retry-After" in r.getMessage() for r in warnings)


def test_short_retry_after_is_not_a_warning(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    authorised("ana")
    fake.add_plays("ana", make_plays(3, start=START))
    fake.fail_next(429, retry_after=5)
    with caplog.at_level(logging.INFO, logger="producers.spotify"):
        make_poller(["ana"]).run(once=True)
    assert len(sink.plays) == 3
    assert fake.stats.early_after_429 == 0
    ours = [r for r in caplog.records if r.name.startswith("producers.spotify")]
    assert ours and not [r for r in ours if r.levelno >= logging.WARNING]


def test_a_429_holds_back_every_listener(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
) -> None:
    for name in ("ana", "ben", "cy"):
        authorised(name)
        fake.add_plays(name, make_plays(5, start=START, seed=name))
    fake.fail_next(429, retry_after=900)
    reports = make_poller(["ana", "ben", "cy"]).run(once=True)
    assert {r.status for r in reports.values()} == {Status.OK}
    assert fake.stats.early_after_429 == 0  # ben and cy waited too
    for name in ("ana", "ben", "cy"):
        assert ids(sink, name) == expected_ids(name, fake.plays(name))


def test_a_500_burst_backs_off_exponentially_with_bounded_jitter(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    clock: FakeClock, settings: object,
) -> None:
    authorised("ana")
    plays = make_plays(20, start=START)
    fake.add_plays("ana", plays)
    fake.fail_next(500, count=4)
    fake.fail_next(503, count=1)
    report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.OK
    assert ids(sink) == expected_ids("ana", plays)
    assert fake.stats.answered_500 == 5
    policy = BackoffPolicy(base_s=1.0, cap_s=30.0)
    assert len(clock.sleeps) == 5
    for attempt, slept in enumerate(clock.sleeps):
        assert 0 <= slept <= policy.ceiling(attempt)
    assert len(set(clock.sleeps)) == 5  # jittered, not a fixed schedule


def test_endless_5xx_gives_up_in_once_mode_with_the_cap_respected(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    clock: FakeClock,
) -> None:
    authorised("ana")
    fake.add_plays("ana", make_plays(3, start=START))
    fake.fail_next(500, count=100)
    report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.FAILED
    assert report.failures_in_a_row == 8
    assert sink.plays == []
    assert max(clock.sleeps) <= 30.0


def test_expired_token_is_refreshed_once_and_stored(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    tokens: FileTokenStore,
) -> None:
    old = authorised("ana")
    plays = make_plays(15, start=START)
    fake.add_plays("ana", plays[:5])
    poller = make_poller(["ana"])
    poller.run(once=True)
    assert fake.expire_access_tokens("ana") == 1  # server-side: the client still trusts it
    fake.add_plays("ana", plays[5:])
    report = poller.run(once=True)["ana"]
    assert report.status is Status.OK
    assert ids(sink) == expected_ids("ana", plays)
    assert fake.stats.token_grants.get("refresh_token") == 1
    assert fake.stats.answered_401 == 1
    stored = tokens.handler("ana").load()
    assert stored is not None
    new_access = stored.access_token.get_secret_value()
    assert new_access != old.access_token.get_secret_value()
    assert stored.refresh_token == old.refresh_token  # Spotify kept it; so do we
    assert fake.stats.bearer_tokens_seen[-1] == new_access
    assert (tokens.handler("ana").path.stat().st_mode & 0o777) == 0o600


def test_refused_refresh_reports_needs_reauth_and_leaves_the_cursor(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore, caplog: pytest.LogCaptureFixture,
) -> None:
    authorised("ana")
    authorised("ben")
    fake.add_plays("ana", make_plays(4, start=START))
    fake.add_plays("ben", make_plays(4, start=START, seed="b"))
    poller = make_poller(["ana", "ben"])
    poller.run(once=True)
    before = cursors.get("ana")
    fake.revoke("ana")
    fake.add_plays("ana", make_plays(3, start=START + timedelta(days=1), seed="n"))
    with caplog.at_level(logging.ERROR):
        reports = poller.run(once=True)
    assert reports["ana"].status is Status.NEEDS_REAUTH
    assert "encore auth --listener ana" in reports["ana"].message
    assert reports["ben"].status is Status.OK  # one listener's trouble is not everyone's
    assert fake.stats.token_grants.get("refresh_token") == 1  # refreshed once, not more
    assert cursors.get("ana") == before
    assert len(ids(sink, "ana")) == 4
    assert any("ana" in r.getMessage() and "re-auth" in r.getMessage() for r in caplog.records)


def test_listener_without_a_token_needs_auth_without_any_request(
    fake: FakeSpotify, make_poller: MakePoller
) -> None:
    report = make_poller(["nobody"]).run(once=True)["nobody"]
    assert report.status is Status.NEEDS_REAUTH
    assert fake.stats.recently_played_requests == 0


def test_needs_reauth_listener_comes_back_after_encore_auth(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    clock: FakeClock,
) -> None:
    fake.add_plays("ana", make_plays(6, start=START))
    poller = make_poller(["ana"])
    seen: list[Status] = []
    poller.on_report = lambda r: seen.append(r.status)
    # Forever mode: first cycle finds no token; the test authorises; a later cycle polls.
    original_sleep = clock.sleep

    def sleep_then_auth(seconds: float) -> None:
        original_sleep(seconds)
        if len(seen) == 1:
            authorised("ana")
        if len(sink.plays) == 6:
            poller.stop()

    clock.sleep = sleep_then_auth  # type: ignore[method-assign]
    poller.run()
    assert seen[0] is Status.NEEDS_REAUTH
    assert Status.OK in seen
    assert ids(sink) == expected_ids("ana", fake.plays("ana"))


def test_more_than_50_behind_reports_the_loss_with_its_gap(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    authorised("ana")
    first = make_plays(10, start=START)
    fake.add_plays("ana", first)
    poller = make_poller(["ana"])
    poller.run(once=True)
    burst = make_plays(80, start=START + timedelta(days=1), step_s=60, seed="x")
    fake.add_plays("ana", burst)
    with caplog.at_level(logging.WARNING):
        report = poller.run(once=True)["ana"]
    # Spotify shows only the last 50: those are produced, 30 are gone, and we say so.
    assert ids(sink) == expected_ids("ana", first + burst[30:])
    assert len(report.losses) == 1
    gap = report.losses[0]
    assert gap.after == first[-1].played_at
    assert gap.before == burst[30].played_at
    assert any("lost for good" in r.getMessage() for r in caplog.records)


def test_exactly_50_new_plays_is_not_a_loss_when_the_window_reaches_the_cursor(
    clock: FakeClock, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    fake: FakeSpotify,
) -> None:
    authorised("ana")
    first = make_plays(10, start=START)
    fake.add_plays("ana", first)
    fake.window = 200  # a Spotify that remembers more: walk back instead of losing
    poller = make_poller(["ana"])
    poller.run(once=True)
    burst = make_plays(130, start=START + timedelta(days=1), step_s=60, seed="y")
    fake.add_plays("ana", burst)
    report = poller.run(once=True)["ana"]
    assert report.losses == []
    assert ids(sink) == expected_ids("ana", first + burst)


def test_unreadable_items_are_skipped_counted_and_do_not_stall(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore,
) -> None:
    authorised("ana")
    good = make_plays(3, start=START)
    broken = ScriptedPlay(track_id="z" * 22, name="", artist="Nobody",
                          played_at=START + timedelta(hours=5))
    fake.add_plays("ana", [*good, broken])
    report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.OK
    assert report.rejected_total == 1
    assert ids(sink) == expected_ids("ana", good)
    assert cursors.get("ana") == broken.ms  # stepped past it with Spotify's cursor


def test_a_401_after_a_successful_refresh_means_reauth_not_a_loop(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore,
) -> None:
    authorised("ana")
    fake.add_plays("ana", make_plays(4, start=START))
    fake.fail_next(401, count=2)  # the refreshed token is refused too
    report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.NEEDS_REAUTH
    assert fake.stats.token_grants.get("refresh_token") == 1
    assert fake.stats.recently_played_requests == 2
    assert sink.plays == [] and cursors.get("ana") is None


def test_a_second_once_run_skips_a_listener_still_needing_auth(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
) -> None:
    authorised("ben")
    fake.add_plays("ben", make_plays(3, start=START))
    poller = make_poller(["ghost", "ben"])
    for _ in range(2):  # must terminate both times
        reports = poller.run(once=True)
        assert reports["ghost"].status is Status.NEEDS_REAUTH
        assert reports["ben"].status is Status.OK
    assert len(sink.plays) == 3


def test_an_unexpected_error_is_retried_not_fatal(
    fake: FakeSpotify, authorised: Grant, make_poller: MakePoller, sink: MemorySink,
    cursors: RedisCursorStore, caplog: pytest.LogCaptureFixture,
) -> None:
    authorised("ana")
    fake.add_plays("ana", make_plays(3, start=START))
    calls = {"n": 0}
    real_get = cursors.get

    def flaky_get(listener: str) -> int | None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("surprise")
        return real_get(listener)

    cursors.get = flaky_get  # type: ignore[method-assign]
    report = make_poller(["ana"]).run(once=True)["ana"]
    assert report.status is Status.OK
    assert len(sink.plays) == 3
    assert any("unexpected" in r.getMessage() for r in caplog.records)
