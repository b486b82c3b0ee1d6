"""Signed snapshots of the online learner: bytes that are checked before unpickling.

Pickle runs code when it loads, so a snapshot is only ever unpickled after its
HMAC-SHA256 (keyed by ``ENCORE_SNAPSHOT_KEY``) has been verified with
:func:`hmac.compare_digest`. A snapshot that does not verify raises
:class:`SnapshotTampered` and is never unpickled.

Layout: ``MAGIC (8 bytes) | version (8, big-endian) | HMAC-SHA256 (32) | body``, the
body a zlib-compressed pickle (``ENCSNAP2``; ``ENCSNAP1`` snapshots, plain pickle,
still load); the HMAC covers magic, version and body, and is checked before the body
is decompressed or unpickled.

>>> from models.learner import DelayedLearner
>>> key = b"k" * 32
>>> blob = dump_snapshot(DelayedLearner(), version=7, key=key)
>>> learner, version = load_snapshot(blob, key=key)
>>> version, type(learner).__name__
(7, 'DelayedLearner')
>>> tampered = blob[:-1] + bytes([blob[-1] ^ 1])
>>> load_snapshot(tampered, key=key)
Traceback (most recent call last):
...
models.snapshot.SnapshotTampered: snapshot HMAC does not match: refusing to unpickle it
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import zlib
from typing import Any

MAGIC = b"ENCSNAP2"
#: The first layout: the same, with the body an uncompressed pickle.
MAGIC_V1 = b"ENCSNAP1"
_HEADER = len(MAGIC) + 8 + 32
#: Environment variable holding the HMAC key (any string; 32+ random bytes advised).
KEY_ENV = "ENCORE_SNAPSHOT_KEY"


class SnapshotError(ValueError):
    """A snapshot could not be read."""


class SnapshotTampered(SnapshotError):
    """The snapshot's HMAC does not verify: wrong key, or the bytes were changed."""


class SnapshotKeyMissing(SnapshotError):
    """No HMAC key was given and ``ENCORE_SNAPSHOT_KEY`` is not set."""


def snapshot_key(key: bytes | str | None = None) -> bytes:
    """The HMAC key: ``key`` if given, else ``ENCORE_SNAPSHOT_KEY``; never empty."""
    if key is None:
        key = os.environ.get(KEY_ENV)
    if not key:
        raise SnapshotKeyMissing(f"set {KEY_ENV} to sign and verify model snapshots")
    return key.encode("utf-8") if isinstance(key, str) else key


def _mac(key: bytes, header: bytes, body: bytes) -> bytes:
    return hmac.new(key, header + body, hashlib.sha256).digest()


def dump_snapshot(obj: Any, *, version: int, key: bytes | str | None = None) -> bytes:
    """Pickle ``obj`` (a learner) into signed snapshot bytes."""
    body = zlib.compress(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), 1)
    head = MAGIC + int(version).to_bytes(8, "big")
    return head + _mac(snapshot_key(key), head, body) + body


def snapshot_version(blob: bytes) -> int:
    """The version written in a snapshot's header (not verified: for display only)."""
    if len(blob) < _HEADER or not blob.startswith((MAGIC, MAGIC_V1)):
        raise SnapshotError("not an encore snapshot")
    return int.from_bytes(blob[len(MAGIC) : len(MAGIC) + 8], "big")


def snapshot_mac(blob: bytes) -> str:
    """The HMAC written in a snapshot's header, hex (not verified: for display only)."""
    snapshot_version(blob)
    return blob[len(MAGIC) + 8 : _HEADER].hex()


def load_snapshot(blob: bytes, *, key: bytes | str | None = None) -> tuple[Any, int]:
    """Verify the HMAC of ``blob``, then unpickle it; return (object, version).

    Raises :class:`SnapshotTampered` (never unpickling) when the HMAC does not match.
    """
    if len(blob) < _HEADER or not blob.startswith((MAGIC, MAGIC_V1)):
        raise SnapshotError("not an encore snapshot")
    head = blob[: len(MAGIC) + 8]
    mac = blob[len(MAGIC) + 8 : _HEADER]
    body = blob[_HEADER:]
    if not hmac.compare_digest(mac, _mac(snapshot_key(key), head, body)):
        raise SnapshotTampered("snapshot HMAC does not match: refusing to unpickle it")
    if head.startswith(MAGIC):
        try:
            body = zlib.decompress(body)
        except zlib.error as exc:  # signed with our key, yet not ours: refuse it all the same
            raise SnapshotError(f"snapshot body does not decompress: {exc}") from exc
    return pickle.loads(body), int.from_bytes(head[len(MAGIC) :], "big")
