"""The lookup API and its web page. ``create_app(settings)`` builds it; ``app`` is what
an ASGI server (``encore api`` runs granian) imports.

Every body outside 2xx is an ``ErrorResponse`` (code + message): unknown listener 404,
bad ``k`` or malformed id 422, missing/wrong ``X-API-Key`` 401 (only when a key is set),
Redis unreachable 503. No stack trace ever reaches a client.
"""

import gc
import hmac
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import orjson
import redis.exceptions
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from api.fast_lookup import FastLookup
from api.metrics import ApiMetrics, MetricsMiddleware
from api.schemas import (
    ErrorResponse,
    HealthResponse,
    HistoryResponse,
    ListenerOut,
    ListenersResponse,
    MetricsPointOut,
    ModelHistoryResponse,
    ModelResponse,
    PlayOut,
    ReadyResponse,
    RecommendationsResponse,
    ValidationIssue,
)
from api.settings import ApiSettings
from stream_app.recs_store import (
    USER_ID_PATTERN,
    CorruptRecordError,
    RecsNotFoundError,
    RecsReader,
    async_client,
)
from stream_app.redis_mux import MuxConnection

log = logging.getLogger("encore.api")

STATIC_DIR = Path(__file__).resolve().parent / "static"
API_KEY_HEADER = "X-API-Key"
#: The hot route; ``api.fast_lookup`` answers its plain valid requests before FastAPI.
RECS_ROUTE = "/v1/users/{user_id}/recommendations"

#: Redis errors that mean "cannot reach Redis right now" (AuthenticationError and
#: BusyLoadingError are ConnectionErrors; a full pool raises ConnectionError too).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ApiError(Exception):
    """An error with its HTTP status and stable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(
    status: int,
    code: str,
    message: str,
    details: list[ValidationIssue] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(code=code, message=message, details=details or [])
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def recommendations_body(payload: dict[str, Any], k: int) -> bytes:
    """The JSON of a ``RecommendationsResponse`` (same fields, order and datetime form as
    pydantic's: UTC as ``Z``) from ``RecsReader.recommendations_payload``, by orjson."""
    return orjson.dumps(
        {
            "user_id": payload["user_id"],
            "k": k,
            "items": payload["items"],
            "model_version": payload["model_version"],
            "scored_at": payload["scored_at"],
            "as_of_event_time": payload["as_of_event_time"],
            "reason": payload["reason"],
        },
        option=orjson.OPT_UTC_Z,
    )


def _not_found(exc: RecsNotFoundError) -> ApiError:
    return ApiError(404, "no_recommendations" if exc.known else "unknown_listener", str(exc))


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Missing or wrong X-API-Key header.",
        404: "Unknown listener, or nothing stored yet.",
        422: "Invalid parameter (k out of range, malformed id...).",
        503: "Redis is unreachable.",
    }
    return {s: {"model": ErrorResponse, "description": text[s]} for s in statuses}


async def _reader(request: Request) -> RecsReader:
    reader: RecsReader = request.app.state.reader
    return reader


Reader = Annotated[RecsReader, Depends(_reader)]
UserId = Annotated[
    str,
    PathParam(
        pattern=USER_ID_PATTERN,
        description="Listener id: letters, digits and . _ : @ + = - (at most 128).",
        examples=["ana"],
    ),
]


def _key_dependency(settings: ApiSettings) -> list[Any]:
    """The API-key check for /v1, or nothing when no key is configured.

    Declared through ``APIKeyHeader`` so the OpenAPI schema carries the security scheme
    exactly when the key is required.
    """
    expected = settings.api_key_value()
    if not expected:
        return []
    scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="ApiKey")
    expected_bytes = expected.encode("utf-8")

    async def require_key(given: Annotated[str | None, Depends(scheme)]) -> None:
        if given is None or not hmac.compare_digest(given.encode("utf-8"), expected_bytes):
            raise ApiError(401, "invalid_api_key", f"missing or wrong {API_KEY_HEADER} header")

    return [Depends(require_key)]


def _v1_router(settings: ApiSettings) -> APIRouter:
    needs_key = bool(settings.api_key_value())
    auth = (401,) if needs_key else ()
    router = APIRouter(prefix="/v1", dependencies=_key_dependency(settings), tags=["v1"])

    @router.get(
        RECS_ROUTE.removeprefix("/v1"),
        response_model=RecommendationsResponse,
        responses=_responses(*auth, 404, 422, 503),
        summary="A listener's top recommendations, best first",
    )
    async def recommendations(
        user_id: UserId,
        reader: Reader,
        k: Annotated[int, Query(ge=1, le=settings.k_max, description="How many items.")] = 10,
    ) -> Response:
        # Declared with response_model for the OpenAPI schema; the body is encoded by
        # ``recommendations_body`` (the same bytes the fast path sends), not validated again.
        try:
            payload = await reader.recommendations_payload(user_id, k)
        except RecsNotFoundError as exc:
            raise _not_found(exc) from exc
        return Response(recommendations_body(payload, k), media_type="application/json")

    @router.get(
        "/users/{user_id}/history",
        response_model=HistoryResponse,
        responses=_responses(*auth, 404, 422, 503),
        summary="A listener's recent plays, newest first",
    )
    async def history(
        user_id: UserId,
        reader: Reader,
        limit: Annotated[int, Query(ge=1, le=settings.history_max)] = 20,
    ) -> HistoryResponse:
        known, plays = await reader.history(user_id, limit)
        if not known:
            raise ApiError(404, "unknown_listener", f"listener {user_id!r} is unknown")
        return HistoryResponse(user_id=user_id, plays=[PlayOut(**play.model_dump()) for play in plays])

    @router.get(
        "/listeners",
        response_model=ListenersResponse,
        responses=_responses(*auth, 422, 503),
        summary="Known listeners, most recently active first (the page's pick list)",
    )
    async def listeners(
        reader: Reader,
        limit: Annotated[int, Query(ge=1, le=settings.listeners_max)] = 100,
    ) -> ListenersResponse:
        total, entries = await reader.listeners(limit)
        return ListenersResponse(
            total=total, listeners=[ListenerOut(**entry.model_dump()) for entry in entries]
        )

    @router.get(
        "/model",
        response_model=ModelResponse,
        responses=_responses(*auth, 404, 503),
        summary="Current model: version, examples learned, rolling AUC and log loss",
    )
    async def model(reader: Reader) -> ModelResponse:
        info = await reader.model()
        if info is None:
            raise ApiError(404, "no_model", "no model has been published yet")
        return ModelResponse(**info.model_dump())

    @router.get(
        "/model/history",
        response_model=ModelHistoryResponse,
        responses=_responses(*auth, 422, 503),
        summary="The model's metrics over time (AUC, log loss, plays per second)",
    )
    async def model_history(
        reader: Reader,
        limit: Annotated[int, Query(ge=1, le=settings.model_history_max)] = 500,
    ) -> ModelHistoryResponse:
        points = await reader.metrics_history(limit)
        return ModelHistoryResponse(points=[MetricsPointOut(**point.model_dump()) for point in points])

    return router


def _install_error_handlers(app: FastAPI, metrics: ApiMetrics) -> None:
    Handler = Callable[[Request, Any], Coroutine[Any, Any, JSONResponse]]

    def handle(exc_type: type[Exception] | tuple[type[Exception], ...]) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for one in exc_type if isinstance(exc_type, tuple) else (exc_type,):
                app.add_exception_handler(one, fn)
            return fn

        return register

    @handle(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @handle(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            ValidationIssue(
                loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                msg=str(e.get("msg", "invalid")),
            )
            for e in exc.errors()
        ]
        message = "; ".join(f"{'.'.join(str(p) for p in issue.loc)}: {issue.msg}" for issue in issues)
        return _error(422, "invalid_request", message or "invalid request", issues)

    @handle(REDIS_DOWN)
    async def redis_down(_: Request, exc: Exception) -> JSONResponse:
        metrics.redis_errors.inc()
        auth = isinstance(exc, redis.exceptions.AuthenticationError)
        log.warning("redis unavailable: %s", type(exc).__name__)
        message = (
            "Redis refused the API's credentials (check ENCORE_REDIS_PASSWORD)"
            if auth
            else "Redis is unreachable; recommendations cannot be read right now"
        )
        return _error(503, "redis_unavailable", message, headers={"Retry-After": "1"})

    @handle(CorruptRecordError)
    async def corrupt(_: Request, exc: CorruptRecordError) -> JSONResponse:
        log.error("corrupt record: %s", exc)
        return _error(500, "corrupt_record", "a stored record does not follow the contract")

    @handle(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error(
            exc.status_code,
            codes.get(exc.status_code, "http_error"),
            str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @handle(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return _error(500, "internal_error", "internal error")


class _App(FastAPI):
    """FastAPI with a front door (``api.fast_lookup``): ``front`` wraps FastAPI's own
    ``__call__``, so the hot route skips its per-request work too (the telemetry check
    reads the environment on every request: ~10% of a lookup's CPU, 2026-12-08)."""

    front: Callable[[ASGIApp], ASGIApp] | None = None
    _front_app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
            return
        if self._front_app is None:
            self._front_app = self.front(partial(FastAPI.__call__, self))
        await self._front_app(scope, receive, send)


def _install_fast_lookup(app: _App, settings: ApiSettings, metrics: ApiMetrics) -> None:
    """The recommendations route's shortcut (``api.fast_lookup``), in front of FastAPI."""

    def lookup() -> Callable[[str, int], Coroutine[Any, Any, dict[str, Any]]]:
        return app.state.reader.recommendations_payload  # type: ignore[no-any-return]

    async def on_error(scope: Scope, exc: Exception) -> Response:
        if isinstance(exc, RecsNotFoundError):
            exc = _not_found(exc)
        handlers = app.exception_handlers
        handler = next((handlers[t] for t in type(exc).__mro__ if t in handlers), None)
        if handler is None:  # not reached: Exception has a handler
            raise exc
        return await handler(Request(scope), exc)  # type: ignore[no-any-return]

    app.front = partial(
        FastLookup, k_max=settings.k_max, api_key=settings.api_key_value(), route=RECS_ROUTE,
        metrics=metrics, lookup=lookup, encode=recommendations_body, on_error=on_error,
    )  # fmt: skip


def create_app(settings: ApiSettings | None = None, *, reader: RecsReader | None = None) -> FastAPI:
    """Build the app. ``reader`` replaces the Redis reader (unit tests); by default one
    pooled async Redis client is created in the lifespan and closed after it."""
    settings = settings or ApiSettings()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, the app, its schemas) lives as long as the
        # process: out of the collector's way, a full collection no longer walks it
        # (those walks were the lookup's tail latency under load).
        gc.collect()
        gc.freeze()
        if reader is not None:
            app.state.reader = reader
            yield
            return
        client = async_client(
            settings.cluster,
            timeout_s=settings.redis_timeout_s,
            max_connections=settings.redis_max_connections,
        )
        cluster = settings.cluster
        mux = MuxConnection(
            host=cluster.redis_host or cluster.host,
            port=cluster.redis_port,
            password=cluster.redis_password_value(),
            timeout_s=settings.redis_timeout_s,
        )
        app.state.reader = RecsReader(client, cluster.redis_prefix, mux=mux)
        try:
            yield
        finally:
            await mux.aclose()
            await client.aclose()

    app = _App(
        title="encore lookup API",
        version="1.0.0",
        description=(
            "Recommendations the stream app keeps in Redis: P(replay within 30 days) per "
            "track, best first, with the model's version and metrics."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _install_error_handlers(app, metrics)
    app.include_router(_v1_router(settings))
    _install_fast_lookup(app, settings, metrics)

    @app.get("/healthz", response_model=HealthResponse, tags=["ops"], summary="Process is up")
    async def healthz() -> HealthResponse:
        return HealthResponse()

    @app.get(
        "/readyz",
        response_model=ReadyResponse,
        responses={503: {"model": ErrorResponse, "description": "Redis down or no model yet."}},
        tags=["ops"],
        summary="Redis answers and a model exists",
    )
    async def readyz(reader: Reader) -> ReadyResponse | JSONResponse:
        try:
            await reader.ping()
            info = await reader.model()
        except REDIS_DOWN:
            return _error(503, "not_ready", "Redis is unreachable")
        if info is None:
            return _error(503, "not_ready", "no model has been published yet")
        return ReadyResponse(model_version=info.version)

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text format.",
            }
        },
        tags=["ops"],
        summary="Prometheus metrics",
    )
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    index = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    page = index.replace("{{REFRESH_MS}}", str(int(settings.page_refresh_s * 1000))).replace(
        "{{KEY_REQUIRED}}", "true" if settings.api_key_value() else "false"
    )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def __getattr__(name: str) -> FastAPI:
    # ``granian api.app:app`` builds the app from the environment on first access, so
    # importing this module (tests, doctests) never reads settings or opens Redis.
    if name == "app":
        built = create_app(ApiSettings())
        globals()["app"] = built
        return built
    raise AttributeError(name)
