"""The floor of answering HTTP from Python on this machine: an ASGI app that sends the
same bytes for every request, with no Redis and no routing.

`bench lookup` serves it with granian exactly as ``encore api`` is served (same
loop and number of processes) and loads it with the same wrk run, so
its figures bound what any Python lookup service can do here. Body: ``BENCH_FLOOR_BODY_BYTES``
bytes of JSON (the size of a real recommendations body).

>>> import asyncio
>>> sent = []
>>> async def receive(): return {"type": "http.request"}
>>> async def send(message): sent.append(message)
>>> asyncio.run(app({"type": "http", "method": "GET", "path": "/x"}, receive, send))
>>> sent[0]["status"], len(sent[1]["body"]) == len(BODY)
(200, True)
"""

from __future__ import annotations

import os
from typing import Any

#: A JSON body of the requested size.
BODY = b'{"pad":"' + b"x" * max(0, int(os.environ.get("BENCH_FLOOR_BODY_BYTES", "900")) - 10) + b'"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode("ascii"))]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Served with ``--interface asginl`` (no lifespan): every scope is an HTTP request."""
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})
