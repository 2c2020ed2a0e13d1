"""A report's answer as a file: CSV (UTF-8 with a BOM, so spreadsheet programs read Chinese) or XLSX.

The header row is the answer's ``columns``; values are written as the answer holds them (decimals
exact, empty groups empty). The API and the screens both call these.
"""
from __future__ import annotations

import csv
import io

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def as_csv(answer: dict, header: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or answer["columns"])
    writer.writerows([["" if v is None else v for v in row] for row in answer["rows"]])
    return "\ufeff" + out.getvalue()


def as_xlsx(answer: dict, sheet_name: str = "report", header: list[str] | None = None) -> bytes:
    from openpyxl import Workbook
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31] or "report")
    sheet.append(header or answer["columns"])
    for row in answer["rows"]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
