"""A streaming reader of one XLSX worksheet's cell values, for imports.

openpyxl (read-only mode) builds a cell object with validated descriptors for every cell and took
over 80 % of a 100,000-row import; an import only needs each cell's value, whether it holds a
formula, and whether the sheet merges cells. This reads the workbook's small parts (sheet names,
shared strings, styles) with expat and the sheet's rows with regular expressions (see read_rows), and
keeps openpyxl for what it does once per file: telling a date number
format from another (``is_date_format``) and turning Excel's day numbers into datetimes
(``from_excel``), so values match what openpyxl would have given.
"""
from __future__ import annotations

import codecs
import html
import posixpath
import re
import zipfile
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_COLUMN = re.compile(r"([A-Z]+)([0-9]+)")


class FormulaCell(Exception):
    def __init__(self, ref: str, formula: str):
        super().__init__(ref)
        self.ref, self.formula = ref, formula


class MergedCells(Exception):
    def __init__(self, ref: str):
        super().__init__(ref)
        self.ref = ref


class NoSuchSheet(Exception):
    def __init__(self, names: list[str]):
        super().__init__(", ".join(names))
        self.names = names


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _parse(data: bytes, start=None, end=None, text=None) -> None:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    if start:
        parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text
    parser.Parse(data, True)


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


class Workbook:
    """The parts of a workbook every sheet needs: sheet names and paths, shared strings, date styles."""

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.sheets: list[tuple[str, str]] = []
        self.epoch = CALENDAR_WINDOWS_1900
        self._read_workbook()
        self.strings = self._read_strings()
        self.date_styles = self._read_styles()

    def _read_workbook(self) -> None:
        rels: dict[str, str] = {}

        def rel(name, attrs):
            if _local(name) == "Relationship":
                rels[attrs.get("Id")] = attrs.get("Target", "")
        _parse(self.archive.read("xl/_rels/workbook.xml.rels"), start=rel)
        found = []

        def sheet(name, attrs):
            local = _local(name)
            if local == "sheet":
                rid = attrs.get(f"{REL_NS} id")
                found.append((attrs.get("name", ""), rels.get(rid, "")))
            elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                self.epoch = CALENDAR_MAC_1904
        _parse(self.archive.read("xl/workbook.xml"), start=sheet)
        for title, target in found:
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            self.sheets.append((title, path))

    def _read_strings(self) -> list[str]:
        try:
            data = self.archive.read("xl/sharedStrings.xml")
        except KeyError:
            return []
        strings: list[str] = []
        state = {"parts": None, "in_t": False, "phonetic": 0}

        def start(name, attrs):
            local = _local(name)
            if local == "si":
                state["parts"] = []
            elif local == "rPh":  # phonetic guide (furigana, pinyin): not part of the text
                state["phonetic"] += 1
            elif local == "t" and not state["phonetic"]:
                state["in_t"] = True

        def end(name):
            local = _local(name)
            if local == "si":
                strings.append("".join(state["parts"]))
                state["parts"] = None
            elif local == "rPh":
                state["phonetic"] -= 1
            elif local == "t":
                state["in_t"] = False

        def text(data):
            if state["in_t"]:
                state["parts"].append(data)
        _parse(data, start, end, text)
        return strings

    def _read_styles(self) -> set[int]:
        """Indexes of the cell formats (``s`` of a cell) that show a number as a date or time."""
        try:
            data = self.archive.read("xl/styles.xml")
        except KeyError:
            return set()
        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"in_xfs": False}

        def start(name, attrs):
            local = _local(name)
            if local == "numFmt":
                custom[int(attrs.get("numFmtId", "0"))] = attrs.get("formatCode", "")
            elif local == "cellXfs":
                state["in_xfs"] = True
            elif local == "xf" and state["in_xfs"]:
                xfs.append(int(attrs.get("numFmtId", "0")))

        def end(name):
            if _local(name) == "cellXfs":
                state["in_xfs"] = False
        _parse(data, start, end)
        dates = set()
        for n, fmt in enumerate(xfs):
            code = custom.get(fmt) or BUILTIN_FORMATS.get(fmt)
            if code and is_date_format(code):
                dates.add(n)
        return dates

    def sheet_path(self, title: str | None) -> tuple[str, str]:
        if not self.sheets:
            raise NoSuchSheet([])
        if title is None:
            return self.sheets[0]
        for name, path in self.sheets:
            if name == title:
                return name, path
        raise NoSuchSheet([name for name, _ in self.sheets])


#: A cell: its column letters and row number (from ``r``), style, type and content, attributes in any order.
_CELL = re.compile(r"<(?:\w+:)?c(?=[\s/>])(?:(?=[^>]*?\sr=\"([A-Z]+)([0-9]+)\"))?(?:(?=[^>]*?\ss=\"([0-9]+)\"))?"
                   r"(?:(?=[^>]*?\st=\"(\w+)\"))?[^>]*?(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_CELL_FAST = re.compile(r"<c r=\"([A-Z]+)([0-9]+)\"(?: s=\"([0-9]+)\")?(?: t=\"(\w+)\")?\s*(?:/>|>(.*?)</c>)", re.S)
_VALUE = re.compile(r"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.S)
_TEXT = re.compile(r"<(?:\w+:)?t\b[^>]*>(.*?)</(?:\w+:)?t>", re.S)
_FORMULA = re.compile(r"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_MERGE = re.compile(r"<(?:\w+:)?mergeCell\b[^>]*?ref=\"([A-Z]+[0-9]+)")
_ROWS_END = re.compile(r"</(?:\w+:)?row>|<(?:\w+:)?row\b[^>]*/>")
CHUNK = 1 << 22


def _xml_text(raw: str) -> str:
    return html.unescape(raw) if "&" in raw else raw


def read_rows(book: Workbook, path: str, limit: int | None = None):
    """(row number, list of values) of each row holding a cell, in order; values are str, int, float,
    bool, datetime or None. Raises FormulaCell or MergedCells (merged cells are only found when the
    whole sheet is read, i.e. without ``limit``).

    The sheet's XML is read in chunks cut after a complete row, and each row's cells are taken with
    regular expressions: SpreadsheetML cells are flat (``<c r= s= t=><f/><v/><is/></c>``), and this
    is several times faster than any event parser driven from Python. A cell's row is the number in
    its reference (``B12``); cells without a reference follow the previous one. Strings are unescaped
    as XML."""
    rows: list[tuple[int, list]] = []
    strings, dates, epoch = book.strings, book.date_styles, book.epoch
    previous = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    with book.archive.open(path) as source:
        while True:
            chunk = source.read(CHUNK)
            pending += decoder.decode(chunk, final=not chunk)
            end = pending.rfind("</row>") + len("</row>")  # cut after the last complete row
            if end < len("</row>"):
                end = max((m.end() for m in _ROWS_END.finditer(pending)), default=0)
            if chunk and not end:
                continue
            body, pending = (pending[:end], pending[end:]) if chunk else (pending, "")
            current, cells = None, []
            # Excel, WPS, LibreOffice and openpyxl write r, s, t in that order without a prefix: the
            # simple pattern then finds every cell; anything else takes the general one.
            fast = _CELL_FAST.findall(body)
            cells_in = fast if len(fast) == body.count("<c ") + body.count("<c>") and ":c " not in body else \
                [m.groups() for m in _CELL.finditer(body)]
            for letters, number, style, kind, inner in cells_in:
                style = style or None
                if not number:  # a cell without its reference: count it after the last one
                    number, letters = current or str(previous + 1), None
                if number != current:
                    if cells:
                        rows.append((int(current), cells))
                        if limit is not None and len(rows) >= limit:
                            return rows
                    current, cells = number, []
                inner = inner or ""
                if "<f" in inner and _FORMULA.search(inner):
                    ref = f"{letters or ''}{number}"
                    raise FormulaCell(ref, "=" + _xml_text(_FORMULA.search(inner).group(1) or ""))
                kind = kind or "n"
                if kind == "inlineStr":
                    value = _xml_text("".join(_TEXT.findall(inner)))
                    if not value.strip():
                        continue  # a blank string is an empty cell
                else:
                    found = _VALUE.search(inner) if inner else None
                    raw = found.group(1) if found is not None else ""
                    if raw == "":
                        continue
                    if kind == "s":
                        value = strings[int(raw)]
                        if not value.strip():
                            continue
                    elif kind == "b":
                        value = raw == "1"
                    elif kind in ("str", "e", "d"):
                        value = _xml_text(raw)  # an error (#N/A) is text, refused by the field as any text
                    else:
                        value = float(raw)
                        if style is not None and int(style) in dates:
                            value = from_excel(value, epoch)
                        elif value.is_integer() and "." not in raw and "E" not in raw and "e" not in raw:
                            value = int(raw)
                col = column_index(letters) if letters else len(cells)
                if col >= len(cells):
                    cells.extend([None] * (col + 1 - len(cells)))
                cells[col] = value
            if cells:
                rows.append((int(current), cells))
                if limit is not None and len(rows) >= limit:
                    return rows
            if current is not None:
                previous = int(current)
            if not chunk:
                break
    merged = _MERGE.search(body) if rows or body else None
    if merged is not None:
        raise MergedCells(merged.group(1))
    return rows
