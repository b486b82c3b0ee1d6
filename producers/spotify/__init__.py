"""Spotify Web API poller: OAuth per listener, recently-played into Kafka `plays`.

Entry points: :func:`producers.spotify.auth.authorise` (``encore auth``),
:class:`producers.spotify.poller.Poller` and
:func:`producers.spotify.service.build_poller` (``encore poll``).

Importing the package installs the log filter that keeps client secrets and tokens
out of every log record spotipy, urllib3 or this package writes.
"""

from producers.spotify import redact

redact.install()
