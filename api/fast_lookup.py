"""A shortcut in front of FastAPI for the hot route, ``GET /v1/users/{user_id}/recommendations``.

FastAPI's own path for one lookup (its middleware layers, routing, dependency solving,
parameter validation, building and re-validating response models) cost about as much
CPU as the Redis round trip itself. This ASGI wrapper, in front of FastAPI's own
``__call__`` (so before its telemetry check and its whole middleware stack), answers the
plain, valid case directly: the path's id
matches ``USER_ID_PATTERN``, the query is empty or exactly ``k=N`` with 1 <= N <= ``k_max``
and, when a key is configured, ``X-API-Key`` is right. The body is the same bytes the
FastAPI route sends (``api.app.recommendations_body``), and the route's errors (404,
503, 500) come from the app's own exception handlers.

Everything else falls through to FastAPI unchanged, so every refusal (401, 422, 405,
redirects) keeps the body FastAPI gives it, and the route stays in the OpenAPI schema.
The requests it answers are counted in the same metrics, under the route's template.

>>> PATH.fullmatch("/v1/users/ana/recommendations").group(1)
'ana'
>>> PATH.fullmatch("/v1/users/.x/recommendations") is None
True
>>> [parse_k(q, 100) for q in (b"", b"k=7", b"k=0", b"k=101", b"k=07", b"k=1&k=2", b"x=1")]
[10, 7, None, None, None, None, None]
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.metrics import ApiMetrics
from stream_app.recs_store import USER_ID_PATTERN

PATH = re.compile(r"/v1/users/(" + USER_ID_PATTERN.removeprefix("^").removesuffix("$") + r")/recommendations")
_K = re.compile(rb"k=([1-9][0-9]{0,5})")
DEFAULT_K = 10

Lookup = Callable[[str, int], Awaitable[dict[str, Any]]]
Encode = Callable[[dict[str, Any], int], bytes]
OnError = Callable[[Scope, Exception], Awaitable[Response]]


def parse_k(query: bytes, k_max: int) -> int | None:
    """``k`` of a query FastAPI would accept as it is, or None (let FastAPI answer)."""
    if not query:
        return DEFAULT_K
    m = _K.fullmatch(query)
    if m is None:
        return None
    k = int(m.group(1))
    return k if k <= k_max else None


class FastLookup:
    """Pure ASGI wrapper; see the module's docstring. ``route`` is the template the
    metrics count its requests under."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        k_max: int,
        api_key: str | None,
        route: str,
        metrics: ApiMetrics,
        lookup: Callable[[], Lookup],
        encode: Encode,
        on_error: OnError,
    ) -> None:
        self.app = app
        self.k_max = k_max
        self.key = api_key.encode("utf-8") if api_key else None
        self.route = route
        self.metrics = metrics
        self.lookup = lookup
        self.encode = encode
        self.on_error = on_error

    def _key_ok(self, scope: Scope) -> bool:
        if self.key is None:
            return True
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                # As FastAPI sees it: Starlette decodes header values as latin-1.
                return hmac.compare_digest(value.decode("latin-1").encode("utf-8"), self.key)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        m = PATH.fullmatch(scope["path"])
        k = parse_k(scope["query_string"], self.k_max) if m is not None else None
        if m is None or k is None or not self._key_ok(scope):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 200
        try:
            body = self.encode(await self.lookup()(m.group(1), k), k)
        except Exception as exc:
            response = await self.on_error(scope, exc)
            status = response.status_code
            await response(scope, receive, send)
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(body)).encode("ascii")),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            self.metrics.observe(self.route, "GET", status, time.perf_counter() - start)
