"""A report's answer as a page shows it: headers and cells in the user's language, each cell's list
link, and the chart the vendored ECharts draws (``static/charts.js``).

The report service (``runtime/reports``) answers keys and numbers — choice keys, user ids, the first
day of a month — because programs read it. A person reads labels, so this module names every value
once, with the screens' own ``display`` (choice, stage and tag labels, titles of referenced records,
yes/no) plus the owner's user name and the text of a date bucket. The chart and the table are
built from the same labelled rows, so the table is the chart's figures for a screen reader.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from flask import url_for

from ..runtime.query import SYSTEM_FIELDS
from ..i18n import Locale
from .display import formatter, record_titles
from .i18n import label as label_of, translate
from .pages import entity_label, reading, screen_label, user_tz

#: Measures and special columns named by the report service, and their words on a page.
MEASURE_WORDS = {"count": "m_count", "count_distinct": "m_count_distinct", "sum": "m_sum", "avg": "m_avg",
                 "min": "m_min", "max": "m_max"}
SPECIAL_COLUMNS = {"entered": "m_entered", "conversion": "m_conversion", "overall_conversion": "m_overall_conversion",
                   "avg_days": "m_avg_days", "won": "m_won", "amount": "m_amount"}
#: Columns whose numbers are shares (0..1), shown as percentages.
SHARES = {"conversion", "overall_conversion"}


def _user_names(engine, ids: set) -> dict:
    from ..tables import users
    if not ids:
        return {}
    with engine.connect() as conn:
        return {r.id: r.username for r in conn.execute(sa.select(users.c.id, users.c.username)
                                                        .where(users.c.id.in_(sorted(ids))))}


def _bucket_text(value, bucket: str, lang: str) -> str:
    try:
        day = dt.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if bucket == "year":
        return f"{day.year}" + ("年" if lang == "zh" else "")
    if bucket == "quarter":
        q = (day.month - 1) // 3 + 1
        return f"{day.year}年第{q}季度" if lang == "zh" else f"{day.year} Q{q}"
    if bucket == "month":
        return f"{day.year}年{day.month}月" if lang == "zh" else f"{day.year}-{day.month:02d}"
    if bucket == "week":
        return (f"{day.isoformat()} 起的一周" if lang == "zh" else f"week of {day.isoformat()}")
    return day.isoformat()


def number_text(value, lang: str, *, share: bool = False) -> str:
    if value is None:
        return "—"
    if share:
        return f"{Decimal(str(value)) * 100:.1f}%"
    if isinstance(value, bool):
        return translate("yes" if value else "no", lang)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):  # exact, at the scale the field keeps (sums of money show cents)
        return f"{value:,}"
    return f"{Decimal(str(value)):,.2f}"


class Labeller:
    """Names the columns and group values of one report answer for one screen."""

    def __init__(self, screen, entity_key: str | None):
        self.screen = screen
        self.lang = screen.lang
        self.model = screen.model
        self.entity = self.model.entities.get(entity_key) if entity_key else None

    def field(self, key: str) -> dict | None:
        if self.entity is None:
            return None
        return self.entity.field_map.get(key) or SYSTEM_FIELDS.get(key)

    def header(self, column: str, report: dict) -> str:
        if column == "count":
            return translate("m_count", self.lang)
        if column in SPECIAL_COLUMNS and self.field(column) is None:
            return translate(SPECIAL_COLUMNS[column], self.lang)
        if column == "avg_days_to_close":
            return translate("m_avg_days_to_close", self.lang)
        related = self.model.entities.get(column.removesuffix("_per_won"))
        if related is not None and self.field(column) is None:  # the effort report's related records
            name = entity_label(related.doc, self.lang, plural=True)
            return translate("m_per_won", self.lang, what=name) if column.endswith("_per_won") else name
        if ":" in column:
            head, _, rest = column.partition(":")
            if head in MEASURE_WORDS:  # sum:amount
                return translate(MEASURE_WORDS[head], self.lang, field=self.field_label(rest))
            return self.field_label(head)  # created_at:month, amount:bands:10,50
        if column == "stage" and report.get("type") == "funnel":
            return translate("m_stage", self.lang)
        return self.field_label(column)

    def field_label(self, key: str) -> str:
        if key == "owner_id":
            return translate("owner", self.lang)
        if key in ("created_at", "updated_at"):
            return translate("created" if key == "created_at" else "updated", self.lang)
        f = self.field(key)
        return screen_label(f, self.lang) if f else key

    def values(self, column: str, values: list, report: dict) -> list[str]:
        """The texts of one group column's values (all rows at once: one query per reference or owner)."""
        empty = translate("empty_value", self.lang)
        head, _, rest = column.partition(":")
        if report.get("type") == "funnel" and column == "stage":
            stages = {}
            pipeline = self.model.state.pipelines.get(report.get("pipeline"))
            if pipeline is not None:
                stages = {s["key"]: label_of(s.get("label") or s["key"], self.lang) for s in pipeline.doc.get("stages", [])}
            return [stages.get(v, str(v)) if v is not None else empty for v in values]
        if rest.split(":")[0] in ("day", "week", "month", "quarter", "year"):
            return [_bucket_text(v, rest, self.lang) if v is not None else empty for v in values]
        if head == "owner_id":
            names = _user_names(self.screen.svc.engine, {v for v in values if isinstance(v, int)})
            return [names.get(v, f"#{v}") if v is not None else empty for v in values]
        f = self.field(head)
        if f is None or rest:  # number bands and unknown columns are already text
            return [str(v) if v is not None else empty for v in values]
        titles = {}
        target = f.get("target")
        if target and target in self.model.entities and self.screen.can("read", target):
            ids = sorted({v for v in values if isinstance(v, int)})
            if ids:
                found = record_titles(self.screen.svc, self.model, target, ids, reading())
                titles = {(target, k): t for k, t in found.items()}
        shown = formatter(f, self.model.state, Locale(self.lang, user_tz()))
        out = []
        for v in values:
            text = shown(v, titles) if v is not None else ""
            out.append(text or empty)
        return out


def figure(screen, report: dict, answer: dict, *, title: str | None = None) -> dict:
    """Everything a page needs to show one report: headers, labelled rows with links, chart spec."""
    lab = Labeller(screen, answer.get("entity") or report.get("entity"))
    lang = screen.lang
    columns = list(answer["columns"])
    rows = answer["rows"]
    links = answer.get("links") or [None] * len(rows)
    entity = answer.get("entity") or report.get("entity")
    n_groups = _group_count(report, columns)
    group_cols, measure_cols = columns[:n_groups], columns[n_groups:]
    group_texts = [lab.values(c, [r[i] for r in rows], report) for i, c in enumerate(group_cols)]
    list_url = url_for("screens.list_page", entity=entity) if entity else None
    table_rows = []
    for n, row in enumerate(rows):
        cells = [group_texts[i][n] for i in range(n_groups)]
        cells += [number_text(row[n_groups + j], lang, share=c in SHARES) for j, c in enumerate(measure_cols)]
        href = f"{list_url}?{links[n]}" if list_url and links[n] is not None else None
        table_rows.append({"cells": cells, "href": href})
    headers = [lab.header(c, report) for c in columns]
    chart = report.get("chart") or ("funnel" if report.get("type") == "funnel" else "bar")
    spec = _chart_spec(chart, report, headers, columns, n_groups, rows, group_texts, table_rows, lang)
    if report.get("type") == "funnel" and chart == "funnel":
        spec = _funnel_spec(spec, lab, report, columns, rows, headers)
    return {"title": title or (label_of(report["label"], lang) if report.get("label") else ""),
            "chart": chart, "headers": headers, "n_groups": n_groups, "rows": table_rows, "spec": spec,
            "entity_label": entity_label(lab.entity.doc, lang, plural=True) if lab.entity else "",
            "number": _number(table_rows, n_groups) if chart == "number" else None}


def _group_count(report: dict, columns: list[str]) -> int:
    if report.get("type") in ("funnel", "conversion"):
        return 1
    if report.get("type") == "effort":  # grouped by its optional dimension
        return 1 if report.get("dimension") else 0
    return len(report.get("group_by") or [])


def _number(rows: list[dict], n_groups: int) -> str:
    return rows[0]["cells"][n_groups] if rows and len(rows[0]["cells"]) > n_groups else "—"


def _float(value):
    if value is None or isinstance(value, bool):
        return None
    return float(value)


def _chart_spec(chart, report, headers, columns, n_groups, rows, group_texts, table_rows, lang: str) -> dict:
    """What ``charts.js`` draws: categories, series (one per measure, or per second group value), links."""
    if chart in ("number", "table") or not rows:
        return {"type": chart, "categories": [], "series": []}
    if n_groups == 2 and _year_then_month(columns):
        return _years_side_by_side(chart, headers, rows, group_texts, table_rows, lang=lang)
    if n_groups == 2:  # categories by the first group, one series per value of the second, first measure
        cats, names = [], []
        for n in range(len(rows)):
            if group_texts[0][n] not in cats:
                cats.append(group_texts[0][n])
            if group_texts[1][n] not in names:
                names.append(group_texts[1][n])
        series = [{"name": name, "data": [None] * len(cats), "links": [None] * len(cats)} for name in names]
        for n, row in enumerate(rows):
            s = series[names.index(group_texts[1][n])]
            c = cats.index(group_texts[0][n])
            s["data"][c] = _float(row[2])
            s["links"][c] = table_rows[n]["href"]
        return {"type": chart, "categories": cats, "series": series, "axis": headers[0], "value": headers[2]}
    cats = group_texts[0] if n_groups else [headers[0]]
    # The chart draws the first measure (a count and an amount share no scale); the table has all.
    measure_idx = [n_groups]
    if report.get("type") == "funnel":  # the funnel is drawn by count; amounts and rates are in the table
        measure_idx = [columns.index("count")]
    elif report.get("type") == "conversion":
        measure_idx = [columns.index("conversion")]
    series = [{"name": headers[j], "share": columns[j] in SHARES,
               "data": [_float(r[j]) for r in rows], "links": [t["href"] for t in table_rows]} for j in measure_idx]
    if chart == "pie":
        series = series[:1]
    return {"type": chart, "categories": cats, "series": series, "axis": headers[0] if n_groups else "",
            "value": series[0]["name"] if series else ""}


def _funnel_spec(spec: dict, lab, report: dict, columns: list[str], rows: list, headers: list[str]) -> dict:
    """A funnel narrows as records go further: it draws how many records entered each open and won
    stage (a stage's current count can exceed the one before it: most deals wait in a late stage),
    and leaves the lost stages out; the table keeps every stage and figure."""
    pipeline = lab.model.state.pipelines.get(report.get("pipeline"))
    lost = {st["key"] for st in pipeline.doc.get("stages", []) if st.get("category") == "lost"} if pipeline else set()
    kept = [n for n, row in enumerate(rows) if row[0] not in lost]
    entered = columns.index("entered")
    series = spec["series"][0] if spec["series"] else {"links": [None] * len(rows)}
    return {**spec, "categories": [spec["categories"][n] for n in kept], "value": headers[entered],
            "series": [{"name": headers[entered], "share": False, "data": [_float(rows[n][entered]) for n in kept],
                        "links": [series["links"][n] for n in kept]}]}


MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _year_then_month(columns: list[str]) -> bool:
    """``<f>:year`` then ``<f>:month`` of the same field: this year against last, month by month."""
    first, second = columns[0].split(":"), columns[1].split(":")
    return first[1:] == ["year"] and second[1:] == ["month"] and first[0] == second[0]


def _years_side_by_side(chart, headers, rows, group_texts, table_rows, *, lang: str) -> dict:
    """One series per year over the twelve months, so each month of this year stands beside the
    same month of last year (the rows' own month buckets would never line up)."""
    cats = [f"{m}月" for m in range(1, 13)] if lang == "zh" else MONTHS_EN
    years: list[str] = []
    for text in group_texts[0]:
        if text not in years:
            years.append(text)
    series = [{"name": y, "data": [None] * 12, "links": [None] * 12} for y in years]
    for n, row in enumerate(rows):
        try:
            month = dt.date.fromisoformat(str(row[1])).month
        except ValueError:
            continue  # no date (the empty group): it stays in the table
        s = series[years.index(group_texts[0][n])]
        s["data"][month - 1] = _float(row[2])
        s["links"][month - 1] = table_rows[n]["href"]
    return {"type": chart, "categories": cats, "series": series, "axis": headers[1], "value": headers[2]}
