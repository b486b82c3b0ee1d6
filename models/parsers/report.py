"""What parsing a set of files produced: plays, skips by reason, and rejects that say where.

A *skip* is a record that is valid but is not a music play (a podcast, a video
episode, a row with no track): it is counted by reason and is not an error. A *reject*
is a record that cannot be a play (a bad timestamp, an empty listener, broken JSON);
it names its file, its place in the file and the reason, and keeps a bounded prefix
of the raw text for the dead-letter topic.

>>> report = ParseReport()
>>> report.count_skip("episode")
>>> report.add_reject(Reject("plays.csv", "line 7", "bad played_at 'yesterday'"))
>>> report.skipped, report.rejected
(Counter({'episode': 1}), 1)
>>> str(report.rejects[0])
"plays.csv line 7: bad played_at 'yesterday'"
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from models.events import PlayEvent

#: Raw text kept on a reject (the dead-letter topic keeps the same amount).
RAW_PREFIX = 2048

#: Skip reasons shared by the parsers.
PODCAST = "podcast"
EPISODE = "episode"
AUDIOBOOK = "audiobook"
NO_TRACK = "no track or artist"
NOW_PLAYING = "now playing"


class UnusableInput(Exception):
    """A path that cannot be parsed at all: missing, unreadable, or of unknown format.

    >>> str(UnusableInput("nowhere.csv", "no such file or directory"))
    'nowhere.csv: no such file or directory'
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that could not become a play: where it is, why, and what it looked like."""

    file: str
    #: Human-readable place in the file: ``line 12`` or ``record 40 (line 1)``.
    location: str
    reason: str
    raw: str | None = None

    def __str__(self) -> str:
        return f"{self.file} {self.location}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "location": self.location, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Skip:
    """A valid record that is not a music play; counted by ``reason``."""

    reason: str


@dataclass(slots=True)
class FileReport:
    """Counts for one parsed file."""

    path: str
    format: str
    accepted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "format": self.format,
            "accepted": self.accepted,
            "skipped": dict(self.skipped),
            "rejected": self.rejected,
        }


@dataclass(slots=True)
class ParseReport:
    """The outcome of parsing one or more files.

    ``events`` holds the accepted plays in file order when the report comes from
    ``parse_paths``; when it comes from ``iter_paths`` the plays were streamed to the
    caller and ``events`` stays empty, while every count is still kept here.
    Exact duplicates are kept in ``events``: consumers dedupe by ``event_id``.
    """

    events: list[PlayEvent] = field(default_factory=list)
    accepted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    #: The rejects kept (at most ``max_rejects``); ``rejected`` counts them all.
    rejects: list[Reject] = field(default_factory=list)
    rejected: int = 0
    files: list[FileReport] = field(default_factory=list)
    #: Files inside a given folder that are not in any known format (e.g. README.md).
    ignored: list[str] = field(default_factory=list)
    max_rejects: int | None = None

    @property
    def format(self) -> str:
        """The format of the files, ``+``-joined when they differ; ``none`` without files."""
        names = list(dict.fromkeys(f.format for f in self.files))
        return "+".join(names) if names else "none"

    def count_skip(self, reason: str) -> None:
        self.skipped[reason] += 1
        if self.files:
            self.files[-1].skipped[reason] += 1

    def add_reject(self, reject: Reject) -> None:
        self.rejected += 1
        if self.files:
            self.files[-1].rejected += 1
        if self.max_rejects is None or len(self.rejects) < self.max_rejects:
            self.rejects.append(reject)

    def count_accepted(self) -> None:
        self.accepted += 1
        if self.files:
            self.files[-1].accepted += 1
