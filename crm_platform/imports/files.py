"""Reading an import file: CSV (UTF-8, UTF-8 with BOM, GB18030; delimiter sniffed) or XLSX (the first
sheet or a named one) as a header row and data rows.

Everything wrong with the file as a whole — empty, neither CSV nor XLSX, no header row, too many
columns, a formula or merged cell — is found here, before a single record is written, and refused
with a message naming the file, the sheet and the cell. The whole file is read into memory once (it
is at most ``CRM_IMPORT_MAX_BYTES``): one pass over an XLSX both checks and reads it.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from ..errors import BadRequest, error

#: More columns than this is not a customer list but a mistake (a pivot table, a transposed sheet).
MAX_COLUMNS = 200
#: XLSX (and every Office Open XML file) is a zip archive.
ZIP_MAGIC = b"PK\x03\x04"
#: Excel 97-2003 (.xls) and other OLE2 compound documents.
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
#: A cell that is a number, a date or a phone number rather than a column name.
_LOOKS_LIKE_VALUE = re.compile(r"^[+\-]?[0-9][0-9 ().,:/\-]*$")


def refuse(code: str, message: str, **more) -> BadRequest:
    return BadRequest([error("file", code, message, **more)])


@dataclass
class Sheet:
    """A file's header and data rows. ``rows`` are (row number as the file counts it, cells); blank
    rows are left out; cells are text (CSV) or openpyxl values (XLSX), None when empty."""

    filename: str
    headers: list[str]
    rows: list[tuple[int, tuple]] = field(default_factory=list)
    sheet: str | None = None


def read_sheet(data: bytes, filename: str, sheet: str | None = None, max_columns: int = MAX_COLUMNS,
               limit: int | None = None) -> Sheet:
    """The header and data rows of the file; with ``limit``, only the first ``limit`` data rows (a
    preview: cells further down, and merged cells, are checked when the import runs)."""
    if not data or not data.strip():
        raise refuse("empty", f"{filename} is empty")
    if data.startswith(ZIP_MAGIC):
        return _read_xlsx(data, filename, sheet, max_columns, limit)
    if data.startswith(OLE_MAGIC):
        raise refuse("format", f"{filename} is an old Excel (.xls) file: save it as .xlsx or CSV and import that")
    if sheet:
        raise refuse("sheet", f"{filename} is a CSV file, which has no sheets; leave the sheet name out")
    return _read_csv(data, filename, max_columns, limit)


# ---- CSV ------------------------------------------------------------------------------------------
def decode(data: bytes, filename: str) -> str:
    """UTF-8 (with or without a BOM), else GB18030 (what Excel on a Chinese Windows writes)."""
    if b"\x00" in data[:65536]:  # text files have no NUL bytes; UTF-16 and binary files do
        raise refuse("format", f"{filename} is neither a CSV file (UTF-8 or GB18030) nor an XLSX workbook")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise refuse("encoding", f"{filename} is neither UTF-8 nor GB18030 text: save it as CSV UTF-8 and "
                                 f"import that") from None


def _read_csv(data: bytes, filename: str, max_columns: int, limit: int | None = None) -> Sheet:
    text = decode(data, filename)
    sample = text[:65536]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:  # one column, or nothing the sniffer can decide on: a plain comma file
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    out: Sheet | None = None
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue
            if out is None:
                out = Sheet(filename, _headers(cells, filename, number, max_columns))
                continue
            out.rows.append((number, tuple(c if c.strip() else None for c in cells)))
            if limit is not None and len(out.rows) >= limit:
                break
    except csv.Error as exc:
        raise refuse("format", f"{filename} is not a readable CSV file (line {reader.line_num}: {exc})") from None
    if out is None:
        raise refuse("empty", f"{filename} has no header row")
    return out


# ---- XLSX -----------------------------------------------------------------------------------------
def _read_xlsx(data: bytes, filename: str, sheet: str | None, max_columns: int, limit: int | None = None) -> Sheet:
    from openpyxl.utils import get_column_letter

    from . import xlsx

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        book = xlsx.Workbook(archive)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, xlsx.expat.ExpatError) as exc:
        raise refuse("format", f"{filename} is a zip file but not an XLSX workbook ({exc})") from None
    try:
        title, path = book.sheet_path(sheet)
    except xlsx.NoSuchSheet as exc:
        raise refuse("sheet", f"{filename} has no sheet named {sheet!r}; its sheets: {', '.join(exc.names)}") from None
    try:
        rows = xlsx.read_rows(book, path, None if limit is None else limit + 20)
    except xlsx.FormulaCell as exc:
        raise refuse("formula", f"cell {exc.ref} of sheet {title!r} holds a formula ({exc.formula}); copy the sheet and "
                                f"paste it as values, then import that", cell=exc.ref) from None
    except xlsx.MergedCells as exc:
        raise refuse("merged", f"sheet {title!r} of {filename} has merged cells (from {exc.ref}); unmerge them and fill "
                               f"every row, then import", cell=exc.ref) from None
    except (KeyError, ValueError, IndexError, xlsx.expat.ExpatError) as exc:
        raise refuse("format", f"sheet {title!r} of {filename} cannot be read ({exc})") from None
    out: Sheet | None = None
    width = 0
    for number, values in rows:  # blank strings are already empty cells (xlsx.read_rows)
        if out is None:
            if not any(v is not None for v in values):
                continue
            while values and values[-1] is None:
                values.pop()
            out = Sheet(filename, _headers(values, filename, number, max_columns, title), sheet=title)
            width = len(out.headers)
            continue
        if any(v is not None for v in values):
            extra = next((n for n in range(width, len(values)) if values[n] is not None), None)
            if extra is not None:
                raise refuse("header", f"cell {get_column_letter(extra + 1)}{number} of sheet {title!r} holds a value "
                                       f"under no header; give its column a header or clear it")
            if len(values) < width:
                values.extend([None] * (width - len(values)))
            out.rows.append((number, tuple(values[:width])))
            if limit is not None and len(out.rows) >= limit:
                break
    if out is None:
        raise refuse("empty", f"sheet {title!r} of {filename} has no header row")
    return out


def _headers(cells, filename: str, number: int, max_columns: int, sheet: str | None = None) -> list[str]:
    where = f"sheet {sheet!r} of {filename}" if sheet else filename
    if len(cells) > max_columns:
        raise refuse("columns", f"{where} has {len(cells)} columns; an import takes at most {max_columns}")
    headers = ["" if c is None else str(c).strip() for c in cells]
    if not any(headers):
        raise refuse("header", f"{where} has no header row")
    value = next((c for c in cells if c is not None and (not isinstance(c, str) or _LOOKS_LIKE_VALUE.match(c.strip()))), None)
    if value is not None:  # column names are words: a number, date or phone number means data came first
        raise refuse("header", f"{where} has no header row: row {number} holds values ({value}); put the column "
                               f"names in the first row")
    from openpyxl.utils import get_column_letter
    for n, h in enumerate(headers):
        if not h:
            headers[n] = f"({get_column_letter(n + 1)})"  # an unnamed column, named by its letter
    seen: set[str] = set()
    for h in headers:
        if h.casefold() in seen:
            raise refuse("header", f"{where} has two columns headed {h!r} (row {number}); rename one")
        seen.add(h.casefold())
    return headers
