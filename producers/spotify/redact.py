"""Keep secrets out of logs, including spotipy's own DEBUG lines.

spotipy logs request headers (``Authorization: Basic base64(id:secret)`` and
``Bearer <access token>``) and token request bodies (``refresh_token``, ``code``) at
DEBUG. A filter on those loggers rewrites every record before any handler sees it:
known secret values are replaced, and so is anything shaped like a credential.

>>> register_secret("s3cr3t-value")
>>> redact("client_secret=s3cr3t-value and Bearer abc.DEF-123 and {'refresh_token': 'r1'}")
"client_secret=[REDACTED] and Bearer [REDACTED] and {'refresh_token': '[REDACTED]'}"
>>> redact("Authorization: Basic QUJDOkRFRg==")
'Authorization: Basic [REDACTED]'
"""

from __future__ import annotations

import base64
import logging
import re
import threading

REDACTED = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (
        re.compile(
            r"""(['"]?\b(?:access_token|refresh_token|code|client_secret|Authorization)"""
            r"""['"]?\s*[:=]\s*['"]?)(?!\[REDACTED\]|Bearer\b|Basic\b)[^'"&\s,}]+"""
        ),
        rf"\1{REDACTED}",
    ),
)

_MIN_SECRET_LEN = 6
_secrets: set[str] = set()
_lock = threading.Lock()

#: Loggers whose records can carry secrets: spotipy's, urllib3's and ours.
LOGGER_NAMES = (
    "spotipy",
    "spotipy.client",
    "spotipy.oauth2",
    "spotipy.cache_handler",
    "spotipy.util",
    "urllib3.connectionpool",
    "producers.spotify",
    "producers.spotify.auth",
    "producers.spotify.poller",
    "producers.spotify.tokens",
    "producers.spotify.client",
    "cli.spotify",
)


def register_secret(value: str | None) -> None:
    """Remember a secret value (and its base64 forms) so it is redacted wherever it shows."""
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _lock:
        _secrets.add(value)


def register_client_credentials(client_id: str, client_secret: str) -> None:
    """The Basic header is base64(id:secret): redact that too, not only the raw secret."""
    register_secret(client_secret)
    register_secret(base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii"))


def redact(text: str) -> str:
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with secrets removed; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not our business
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Format the traceback now, redacted, so a handler never formats the raw one.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Attach the filter to every logger that may see a secret (idempotent)."""
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
