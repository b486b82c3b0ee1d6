"""The API's HTTP behaviour with a stub reader: status codes, error bodies, API key,
metrics, the OpenAPI contract and the page. Real Redis: tests/integration/api."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.exceptions
import typer
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from api.schemas import RecommendationItem, RecommendationsResponse
from api.settings import ApiSettings
from cli import api as cli_api
from stream_app.recs_store import (
    HistoryPlay,
    ListenerEntry,
    MetricsPoint,
    ModelInfo,
    RecsNotFoundError,
    RecsReader,
    StoredRecItem,
    StoredRecs,
)

T0 = datetime(2024, 3, 1, tzinfo=UTC)


class StubReader(RecsReader):
    """Answers from memory; ``fail`` makes every call raise it."""

    def __init__(self) -> None:  # no Redis client at all
        self.fail: Exception | None = None
        self.calls: list[tuple[str, int]] = []
        self.recs = {
            "ana": StoredRecs(
                user_id="ana",
                items=[
                    StoredRecItem(
                        track_id="b",
                        score=0.9,
                        reason="played 9 times",
                        track_name="Song B",
                        artist_name="Band",
                    ),
                    StoredRecItem(
                        track_id="a", score=0.4, reason="personalised", track_name=None, artist_name=None
                    ),
                ],
                model_version="v7",
                scored_at=T0,
                as_of_event_time=T0,
                reason="personalised",
            )
        }
        self.known = {"ana", "bo"}
        self.info: ModelInfo | None = ModelInfo(
            version="v7",
            examples_learned=10,
            rolling_auc=0.8,
            rolling_logloss=0.5,
            published_at=T0,
            snapshot_bytes=3,
        )

    def _check(self) -> None:
        if self.fail is not None:
            raise self.fail

    async def ping(self) -> bool:
        self._check()
        return True

    async def recommendations(self, user_id: str, k: int) -> StoredRecs:
        self._check()
        self.calls.append((user_id, k))
        if user_id not in self.recs:
            raise RecsNotFoundError(user_id, known=user_id in self.known)
        found = self.recs[user_id]
        return found.model_copy(update={"items": found.items[:k]})

    async def recommendations_payload(self, user_id: str, k: int) -> dict[str, Any]:
        # What the API calls: the same answer in RecsReader.recommendations_payload's form.
        recs = await self.recommendations(user_id, k)
        payload = recs.model_dump()
        payload["items"] = [
            {f: getattr(i, f) for f in ("track_id", "track_name", "artist_name", "score", "reason")}
            for i in recs.items
        ]
        return payload

    async def history(self, user_id: str, limit: int) -> tuple[bool, list[HistoryPlay]]:
        self._check()
        plays = [HistoryPlay(track_id="a", played_at=T0, ms_played=1000)]
        return (user_id in self.known), plays[:limit] if user_id in self.known else []

    async def listeners(self, limit: int) -> tuple[int, list[ListenerEntry]]:
        self._check()
        entries = [ListenerEntry(user_id=u, last_event_time=T0) for u in sorted(self.known)]
        return len(entries), entries[:limit]

    async def model(self) -> ModelInfo | None:
        self._check()
        return self.info

    async def metrics_history(self, limit: int) -> list[MetricsPoint]:
        self._check()
        return [MetricsPoint(event_time=1.0, wall_time=2.0, auc=0.7, examples=3)][:limit]


@pytest.fixture
def stub() -> StubReader:
    return StubReader()


@contextmanager
def client_for(stub: StubReader, **settings: object) -> Iterator[TestClient]:
    app = create_app(ApiSettings(**settings), reader=stub)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def client(stub: StubReader) -> Iterator[TestClient]:
    with client_for(stub) as client:
        yield client


def test_recommendations_happy_path(client: TestClient, stub: StubReader) -> None:
    r = client.get("/v1/users/ana/recommendations", params={"k": 5})
    assert r.status_code == 200
    body = r.json()
    assert [i["track_id"] for i in body["items"]] == ["b", "a"]
    assert body["items"][0] == {
        "track_id": "b",
        "track_name": "Song B",
        "artist_name": "Band",
        "score": 0.9,
        "reason": "played 9 times",
    }
    assert body["model_version"] == "v7" and body["k"] == 5
    assert datetime.fromisoformat(body["as_of_event_time"]) == T0
    assert stub.calls == [("ana", 5)]
    assert client.get("/v1/users/ana/recommendations").json()["k"] == 10  # the default


def test_shortcut_and_fastapi_route_send_the_same_bytes(client: TestClient, stub: StubReader) -> None:
    # "k=02" is valid but not the shortcut's plain form, so FastAPI's route answers it.
    fast = client.get("/v1/users/ana/recommendations?k=2")
    routed = client.get("/v1/users/ana/recommendations?k=02")
    assert fast.status_code == routed.status_code == 200
    assert fast.content == routed.content
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    # ...and they are what pydantic makes of the response model (field order, "Z" for UTC).
    recs = stub.recs["ana"]
    model = RecommendationsResponse(
        user_id="ana", k=2, model_version="v7", scored_at=T0, as_of_event_time=T0, reason="personalised",
        items=[RecommendationItem(**i.model_dump()) for i in recs.items],
    )  # fmt: skip
    assert fast.content == model.model_dump_json().encode()
    assert stub.calls == [("ana", 2), ("ana", 2)]


@pytest.mark.parametrize(
    "query", ["k=5&k=6", "k=+5", "k=5&extra=1", "K=5", "k=5.0", "k=-1", "k=", "k=999999999"]
)
def test_unusual_queries_get_fastapis_answer(client: TestClient, stub: StubReader, query: str) -> None:
    app = create_app(ApiSettings(), reader=stub)  # type: ignore[arg-type]
    app.outer = None  # type: ignore[attr-defined]  # FastAPI alone: the reference answer
    with TestClient(app, raise_server_exceptions=False) as plain:
        want = plain.get(f"/v1/users/ana/recommendations?{query}")
    got = client.get(f"/v1/users/ana/recommendations?{query}")
    assert (got.status_code, got.content) == (want.status_code, want.content)


def test_shortcut_errors_are_the_routes_errors(client: TestClient, stub: StubReader) -> None:
    stub.fail = RuntimeError("secret internals")
    r = client.get("/v1/users/ana/recommendations")
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": "internal error", "details": []}


@pytest.mark.parametrize(
    ("user", "code", "words"),
    [("zed", "unknown_listener", "unknown"), ("bo", "no_recommendations", "no recommendations")],
)
def test_404_says_why(client: TestClient, user: str, code: str, words: str) -> None:
    r = client.get(f"/v1/users/{user}/recommendations")
    assert r.status_code == 404
    assert r.json()["code"] == code
    assert user in r.json()["message"] and words in r.json()["message"]


def test_history_404_and_200(client: TestClient) -> None:
    assert client.get("/v1/users/zed/history").status_code == 404
    r = client.get("/v1/users/ana/history", params={"limit": 1})
    assert r.status_code == 200 and r.json()["plays"][0]["track_id"] == "a"


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/v1/users/ana/recommendations?k=0", "query.k"),
        ("/v1/users/ana/recommendations?k=101", "query.k"),
        ("/v1/users/ana/recommendations?k=ten", "query.k"),
        ("/v1/users/a%20b/recommendations", "path.user_id"),
        ("/v1/users/.hidden/recommendations", "path.user_id"),
        (f"/v1/users/{'x' * 129}/recommendations", "path.user_id"),
        ("/v1/users/ana/history?limit=0", "query.limit"),
        ("/v1/users/ana/history?limit=21", "query.limit"),
        ("/v1/listeners?limit=-1", "query.limit"),
    ],
)
def test_422_gives_the_reason(client: TestClient, stub: StubReader, path: str, where: str) -> None:
    r = client.get(path)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_request"
    assert body["message"].startswith(where)
    assert body["details"][0]["loc"] == where.split(".")
    assert stub.calls == []  # nothing reached the store


def test_k_max_is_a_setting(stub: StubReader) -> None:
    with client_for(stub, k_max=3) as client:
        assert client.get("/v1/users/ana/recommendations?k=3").status_code == 200
        assert client.get("/v1/users/ana/recommendations?k=4").status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users/ana/recommendations",
        "/v1/users/ana/history",
        "/v1/model",
        "/v1/model/history",
        "/v1/listeners",
    ],
)
def test_503_when_redis_is_unreachable(client: TestClient, stub: StubReader, path: str) -> None:
    stub.fail = redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1.")
    r = client.get(path)
    assert r.status_code == 503
    assert r.json()["code"] == "redis_unavailable"
    assert "unreachable" in r.json()["message"]
    assert "Traceback" not in r.text and "127.0.0.1" not in r.text
    assert r.headers["retry-after"] == "1"


def test_503_on_timeout_and_on_refused_password(client: TestClient, stub: StubReader) -> None:
    stub.fail = redis.exceptions.TimeoutError("Timeout reading from socket")
    assert client.get("/v1/model").status_code == 503
    stub.fail = redis.exceptions.AuthenticationError("invalid password")
    r = client.get("/v1/model")
    assert r.status_code == 503 and "ENCORE_REDIS_PASSWORD" in r.json()["message"]


def test_unexpected_error_is_a_500_without_trace(client: TestClient, stub: StubReader) -> None:
    stub.fail = RuntimeError("secret internals")
    r = client.get("/v1/model")
    assert r.status_code == 500
    assert r.json() == {"code": "internal_error", "message": "internal error", "details": []}


def test_health_and_readiness(client: TestClient, stub: StubReader) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "model_version": "v7"}
    stub.info = None
    r = client.get("/readyz")
    assert r.status_code == 503 and "no model" in r.json()["message"]
    assert client.get("/v1/model").status_code == 404
    stub.fail = redis.exceptions.ConnectionError("down")
    r = client.get("/readyz")
    assert r.status_code == 503 and "Redis" in r.json()["message"]
    assert client.get("/healthz").status_code == 200  # the process is still up


def test_api_key_off_means_open_and_undeclared(client: TestClient) -> None:
    assert client.get("/v1/model").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})
    assert "401" not in schema["paths"]["/v1/model"]["get"]["responses"]


def test_api_key_on(stub: StubReader) -> None:
    with client_for(stub, api_key=SecretStr("s3cret")) as client:
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}):
            r = client.get("/v1/users/ana/recommendations", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["code"] == "invalid_api_key"
        ok = client.get("/v1/users/ana/recommendations", headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 200
        # Only /v1 is guarded.
        assert client.get("/healthz").status_code == 200
        assert client.get("/").status_code == 200
        assert 'content="true"' in client.get("/").text  # the page asks for the key
        schema = client.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["ApiKey"] == {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
        }
        op = schema["paths"]["/v1/users/{user_id}/recommendations"]["get"]
        assert op["security"] == [{"ApiKey": []}] and "401" in op["responses"]
        assert "s3cret" not in client.get("/openapi.json").text


def test_openapi_declares_every_error(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    error_ref = "#/components/schemas/ErrorResponse"
    expected = {
        "/v1/users/{user_id}/recommendations": {"200", "404", "422", "503"},
        "/v1/users/{user_id}/history": {"200", "404", "422", "503"},
        "/v1/listeners": {"200", "422", "503"},
        "/v1/model": {"200", "404", "503"},
        "/v1/model/history": {"200", "422", "503"},
        "/readyz": {"200", "503"},
    }
    for path, statuses in expected.items():
        responses = schema["paths"][path]["get"]["responses"]
        assert set(responses) == statuses, path
        for status in statuses - {"200"}:
            content = responses[status]["content"]["application/json"]["schema"]
            assert content == {"$ref": error_ref}, (path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    k = next(
        p
        for p in schema["paths"]["/v1/users/{user_id}/recommendations"]["get"]["parameters"]
        if p["name"] == "k"
    )
    assert (k["schema"]["minimum"], k["schema"]["maximum"]) == (1, 100)
    assert "/" not in schema["paths"]  # the page is not part of the API contract


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/v1/users/ana/recommendations")
    client.get("/v1/users/zed/recommendations")
    client.get("/no/such/route")
    text = client.get("/metrics").text
    route = 'route="/v1/users/{user_id}/recommendations"'
    assert f'encore_api_requests_total{{method="GET",{route},status="200"}} 1.0' in text
    assert f'encore_api_requests_total{{method="GET",{route},status="404"}} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert f'encore_api_request_duration_seconds_count{{method="GET",{route}}} 2.0' in text
    assert "zed" not in text  # ids never become labels


def test_page_and_script_are_served(stub: StubReader) -> None:
    with client_for(stub, page_refresh_s=2.5) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<meta name="encore-refresh-ms" content="2500">' in page.text
        assert 'content="false"' in page.text
        script = client.get("/static/app.js")
        assert script.status_code == 200 and "X-API-Key" in script.text
        assert "http://" not in script.text.replace("http://www.w3.org/2000/svg", "")


def test_settings_from_environment_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCORE_API_KEY", "k3y")
    monkeypatch.setenv("ENCORE_API_PORT", "9123")
    monkeypatch.setenv("ENCORE_REDIS_PASSWORD", "pw9")
    monkeypatch.setenv("ENCORE_REDIS_PORT", "6390")
    s = ApiSettings()
    assert (s.api_port, s.api_key_value(), s.cluster.redis_port) == (9123, "k3y", 6390)
    assert s.cluster.redis_password_value() == "pw9"
    assert "k3y" not in repr(s) and "pw9" not in repr(s)


def test_cli_registers_the_api_command() -> None:
    app = typer.Typer()
    cli_api.register(app)

    @app.command("other")
    def other() -> None:  # a second command keeps typer in multi-command mode
        """Placeholder."""

    result = CliRunner().invoke(app, ["api", "--help"])
    assert result.exit_code == 0, result.output
    assert "--host" in result.output and "--port" in result.output
