"""Reading plays from every source the project takes, one module per format.

| format | module | what |
|---|---|---|
| ``csv`` | `canonical_csv` | the project's own CSV (also what ``encore import`` writes) |
| ``lastfm-1k`` | `lastfm_1k` | Last.fm 1K dataset TSV |
| ``jodie`` | `jodie` | JODIE user/item/seconds TSV (the bundled Last.fm plays) |
| ``spotify-account`` | `spotify_account` | ``StreamingHistory*.json`` account data |
| ``spotify-extended`` | `spotify_extended` | ``Streaming_History_Audio_*`` / ``endsong_*`` |
| ``listenbrainz`` | `listenbrainz` | ListenBrainz exports and API payloads |
| ``lastfm-scrobbles`` | `lastfm_scrobbles` | Last.fm scrobble CSVs (lastfm.ghan.nl, lastfm-to-csv) |
| ``lastfm-api`` | `lastfm_api` | Last.fm API dumps (``user.getRecentTracks`` pages) |
| ``named-csv`` | `named_csv` | other tools' CSVs, columns found by their usual names |
| ``youtube-music`` | `youtube_music` | Google Takeout's YouTube Music ``watch-history.json`` |
| ``apple-music`` | `apple_music` | Apple's privacy export: ``Apple Music Play Activity.csv`` |
| ``tidal`` | `tidal` | TIDAL's personal data export: ``streaming.csv`` |
| ``deezer`` | `deezer` | Deezer's personal data export: ``deezer-data_<id>.xlsx`` |

The format is told from the content (`detect_format`); gzip, bz2 and xz are
transparent, zip archives are read in place (`archive`), and an Excel workbook as
the CSV of its sheet of plays (`workbook`). The CSV formats read their tables through
`tables` (delimiters, column names, records, cells), the JSON ones through
`json_stream`. Every parser gives plays, skips counted by reason (podcasts, episodes,
rows without a track) and rejects that name the file, the line or record, and the
reason; a bad record never costs the good ones around it.

>>> import gzip, tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "plays.tsv.gz"
>>> _ = path.write_bytes(gzip.compress(b"0\\t7\\t0\\n0\\t7\\t86400\\n1\\t7\\tnoon\\n"))
>>> report = parse_paths([path])
>>> report.format, report.accepted, report.rejected
('jodie', 2, 1)
>>> print(report.rejects[0].location, report.rejects[0].reason)
line 3 seconds 'noon' is not a number
"""

from models.parsers.canonical_csv import write_csv
from models.parsers.detect import FORMAT_NAMES, detect_format, guess_format
from models.parsers.parse import iter_paths, parse_paths, plan_paths, resolve_format
from models.parsers.report import FileReport, ParseReport, Reject, Skip, UnusableInput
from models.parsers.summary import PlaySummary

__all__ = [
    "FORMAT_NAMES",
    "FileReport",
    "ParseReport",
    "PlaySummary",
    "Reject",
    "Skip",
    "UnusableInput",
    "detect_format",
    "guess_format",
    "iter_paths",
    "parse_paths",
    "plan_paths",
    "resolve_format",
    "write_csv",
]
