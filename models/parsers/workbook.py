"""Excel workbooks (``.xlsx``) read as the CSV of one sheet.

Deezer's personal data export is a workbook (``deezer-data_<id>.xlsx``) of a dozen
sheets; the plays are in ``10_listeningHistory``. People also keep plays in
spreadsheets of their own. A workbook is a zip archive, so it is told apart from one
by its ``xl/workbook.xml``, and read (with openpyxl, read-only) as the text of one
sheet: the first whose name ends in ``listeningHistory``, else the first sheet. Every
format parser then reads it as it reads a CSV. Cells become text: empty as empty,
whole numbers without ``.0``, times as ``2025-09-13 09:57:22``.

>>> import io
>>> from openpyxl import Workbook
>>> book = Workbook()
>>> book.active.title = "1_creationData"
>>> sheet = book.create_sheet("10_listeningHistory")
>>> sheet.append(["Song Title", "Artist", "Listening Time", "Date"])
>>> sheet.append(["Jóga", "Björk", 222, "2025-09-13 09:57:22"])
>>> raw = io.BytesIO()
>>> book.save(raw)
>>> is_workbook(raw)
True
>>> print(sheet_text(raw), end="")
Song Title,Artist,Listening Time,Date
Jóga,Björk,222,2025-09-13 09:57:22
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime, time
from typing import IO, Any

#: The sheet suffix of Deezer's listening history (``10_listeningHistory``).
HISTORY_SHEET = "listeninghistory"


def is_workbook(raw: IO[bytes]) -> bool:
    """True when the seekable zip ``raw`` is an Excel workbook (it holds ``xl/workbook.xml``)."""
    try:
        with zipfile.ZipFile(raw) as opened:
            return "xl/workbook.xml" in opened.NameToInfo
    except (zipfile.BadZipFile, OSError):
        return False
    finally:
        raw.seek(0)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def sheet_text(raw: IO[bytes]) -> str:
    """The listening-history sheet of the workbook ``raw`` (else its first) as CSV text."""
    from openpyxl import load_workbook

    book = load_workbook(raw, read_only=True, data_only=True)
    try:
        names = book.sheetnames
        chosen = next((n for n in names if n.casefold().endswith(HISTORY_SHEET)), names[0])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for row in book[chosen].iter_rows(values_only=True):
            writer.writerow([_cell(v) for v in row])
        return out.getvalue()
    finally:
        book.close()
        raw.seek(0)
