"""Rows of text as the bytes of a CSV or XLSX file, produced a batch at a time.

CSV is written by the standard csv module into a small buffer that is emptied after every batch,
so its memory does not grow with the rows; it starts with a UTF-8 byte-order mark, without which
Excel reads UTF-8 as the local code page and shows Chinese as mojibake. XLSX is an openpyxl
``write_only`` workbook (rows go to a temporary file as they come), saved to a temporary file and
then sent in chunks.

A cell whose text a spreadsheet would run as a formula (``=1+1``, ``@SUM(...)``, ``+cmd|...``) is
defused: in CSV it gets a leading apostrophe, the convention spreadsheets honour for "this is
text"; in XLSX it is stored as a text cell. A phone number or a negative number (``+86 138…``,
``-5``) is left as it is.
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
from typing import Iterable, Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

BOM = "\ufeff"
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A leading + or - is harmless when what follows is a number or a phone number.
_NUMBERISH = re.compile(r"^[+-][0-9][0-9 ().\-/]*$")
CHUNK = 64 * 1024


def formula_like(text: str) -> bool:
    return bool(text) and (text[0] in "=@\t\r" or (text[0] in "+-" and not _NUMBERISH.match(text)))


def csv_bytes(header: list[str], batches: Iterable[list[list[str]]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield (BOM + buffer.getvalue()).encode("utf-8")
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([("'" + v if formula_like(v) else v) for v in row] for row in batch)
        yield buffer.getvalue().encode("utf-8")


def xlsx_bytes(header: list[str], batches: Iterable[list[list[str]]], sheet_title: str = "Export") -> Iterator[bytes]:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(sheet_title))

    def cell(text: str):
        text = ILLEGAL_CHARACTERS_RE.sub("", text)  # control characters XML cannot carry
        if not text.startswith("="):
            return text
        c = WriteOnlyCell(sheet, value=text)
        c.data_type = "s"  # text, never a formula
        return c

    sheet.append([cell(h) for h in header])
    for batch in batches:
        for row in batch:
            sheet.append([cell(v) for v in row])
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk


def _sheet_title(title: str) -> str:
    # Excel: at most 31 characters, none of []:*?/\
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31] or "Export"
