"""One Redis connection that all of a process's concurrent requests share, pipelined.

The API's hot route is one EVALSHA per lookup. Through redis-py's asyncio client each
call takes a connection from a pool (a lock and a condition), packs, writes, and parses
its reply on its own: 107-132 us of CPU per lookup at 100 concurrent requests on this
machine (2026-12-08, ``docs/performance.md``). Redis answers the commands of a connection
in the order they arrived, so a single connection can carry every request at once: each
call appends its packed command to a buffer and a future to a FIFO, the buffer is
written once per event-loop turn, and each reply read completes the oldest future. The
same lookups cost 11 us of CPU that way, and a burst of 100 is one write and a few reads.

Failure is what redis-py raises, so callers keep their handlers: no connection or a
dropped one is ``redis.exceptions.ConnectionError`` (``AuthenticationError`` when Redis
refuses the password), a reply later than ``timeout_s`` is ``TimeoutError`` (the
connection is then dropped, since every reply queued behind it is late too), and an
error reply is ``ResponseError``. The next call connects again; calls waiting meanwhile
share the attempt. Replies decode as UTF-8 ``str`` (invalid bytes replaced).

>>> mux = MuxConnection(host="127.0.0.1", port=6379, password=None, timeout_s=1.0)
>>> mux.connected
False
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

import hiredis
import redis.exceptions

Arg = str | bytes | int | float

#: Error replies that mean the password was refused (redis-py raises the same type).
_AUTH_ERRORS = ("WRONGPASS", "NOAUTH", "ERR invalid password", "ERR AUTH")


def _error(reply: hiredis.ReplyError) -> redis.exceptions.RedisError:
    text = str(reply)
    if text.startswith(_AUTH_ERRORS):
        return redis.exceptions.AuthenticationError(text)
    if text.startswith("NOSCRIPT"):
        return redis.exceptions.NoScriptError(text)
    return redis.exceptions.ResponseError(text)


class _Protocol(asyncio.Protocol):
    """The connection: a write buffer flushed once per loop turn, replies in FIFO order."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.out: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future, _ = self.pending.popleft()
                if future.done():  # its caller gave up (cancelled)
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(_error(reply))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:
            self.fail(redis.exceptions.ConnectionError(f"unreadable reply from Redis: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.exceptions.ConnectionError(f"Redis closed the connection ({exc or 'EOF'})"))

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if self.closed:
            raise redis.exceptions.ConnectionError("the Redis connection is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.pending.append((future, time.monotonic() + self.timeout_s))
        self.out.append(command)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = loop.call_later(self.timeout_s, self._check_late)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.out and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def _check_late(self) -> None:
        """Drop the connection when the oldest reply is overdue; else look again when it
        would be. One timer per connection, not one per call."""
        self._watchdog = None
        if self.closed or not self.pending:
            return
        overdue = self.pending[0][1] - time.monotonic()
        if overdue <= 0:
            self.fail(redis.exceptions.TimeoutError(f"Redis did not answer within {self.timeout_s} s"))
            return
        self._watchdog = asyncio.get_running_loop().call_later(overdue, self._check_late)

    def fail(self, exc: redis.exceptions.RedisError) -> None:
        """Close, and fail every call still waiting with ``exc``."""
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self.pending:
            future, _ = self.pending.popleft()
            if not future.done():
                future.set_exception(exc)
        self.out.clear()
        if self.transport is not None:
            self.transport.abort()


class MuxConnection:
    """See the module's docstring. Bound to the event loop of its first call."""

    def __init__(self, *, host: str, port: int, password: str | None, timeout_s: float) -> None:
        self.host = host
        self.port = port
        self._password = password
        self.timeout_s = timeout_s
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None

    @property
    def connected(self) -> bool:
        return self._protocol is not None and not self._protocol.closed

    async def execute(self, *args: Arg) -> Any:
        """Send one command; its reply (``str``, ``int``, ``None`` or nested lists)."""
        protocol = await self._connection()
        return await protocol.send(hiredis.pack_command(args))

    async def evalsha(self, sha: str, script: str, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """EVALSHA; if Redis lost the script (a restart, SCRIPT FLUSH), SCRIPT LOAD it once."""
        try:
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            await self.execute("SCRIPT", "LOAD", script)
            return await self.execute("EVALSHA", sha, len(keys), *keys, *args)

    async def aclose(self) -> None:
        if self._protocol is not None:
            self._protocol.fail(redis.exceptions.ConnectionError("closed by the client"))
            self._protocol = None

    async def _connection(self) -> _Protocol:
        if self._protocol is not None and not self._protocol.closed:
            return self._protocol
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        where = f"Redis at {self.host}:{self.port}"
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self.timeout_s), self.host, self.port),
                self.timeout_s,
            )
        except TimeoutError as exc:
            raise redis.exceptions.TimeoutError(
                f"connecting to {where} took over {self.timeout_s} s"
            ) from exc
        except OSError as exc:
            raise redis.exceptions.ConnectionError(
                f"cannot connect to {where}: {exc.strerror or exc}"
            ) from exc
        if self._password is not None:
            try:
                await protocol.send(hiredis.pack_command(("AUTH", self._password)))
            except redis.exceptions.RedisError:
                protocol.fail(redis.exceptions.ConnectionError("authentication failed"))
                raise
        self._protocol = protocol
        return protocol
