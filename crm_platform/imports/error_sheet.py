"""The refused rows of an import as an XLSX sheet: the file's own columns, so the user can correct
the rows and import the sheet again, then the row number in the original file and what was wrong."""
from __future__ import annotations

import io

from ..i18n import text_of

PROBLEMS = {"en": "Problems", "zh": "问题"}
ROW = {"en": "Row in the file", "zh": "原文件行号"}


def refused_rows(report: dict, sheet) -> dict:
    """What the sheet needs beside the report: the headers and each refused row's cells as text."""
    from ..metadata.field_types.base import cell_text
    wanted = {e["row"] for e in report["refused"]}
    rows = {str(n): ["" if c is None else cell_text(c) for c in cells] for n, cells in sheet.rows if n in wanted}
    return {"headers": sheet.headers, "rows": rows}


def build(report: dict, kept: dict, lang: str = "zh") -> bytes:
    import openpyxl
    from openpyxl.styles import Font, PatternFill

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "refused"
    headers = list(kept.get("headers") or [])
    ws.append([*headers, text_of(ROW, lang), text_of(PROBLEMS, lang)])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    by_row: dict[int, list[dict]] = {}
    for e in report["refused"]:
        by_row.setdefault(e["row"], []).append(e)
    mark = PatternFill("solid", fgColor="FFF2CC")
    for number in sorted(by_row):
        cells = list(kept.get("rows", {}).get(str(number)) or [""] * len(headers))
        cells += [""] * (len(headers) - len(cells))
        problems = "; ".join(f"{e['column']}: {e['message']}" if e.get("column") else e["message"] for e in by_row[number])
        # Text as text: a phone number or a code must not turn into a number or a formula in Excel.
        ws.append([*(("'" + c) if c.startswith("=") else c for c in cells), number, problems])
        for e in by_row[number]:
            if e.get("column") in headers:
                ws.cell(row=ws.max_row, column=headers.index(e["column"]) + 1).fill = mark
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
