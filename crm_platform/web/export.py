"""Export of a list view as CSV or Excel: the records, columns and order the list shows, as it shows them.

One module serves ``GET /api/records/<entity>/export`` and the screens' *Export* button
(``/app/<entity>/export``). A view is checked whole before the first byte is sent (unknown column,
bad filter: 400; a filter or sort by a hidden field: 403), then streamed:

- records come from ``RecordService.stream`` (the list's own query and rights, a server-side cursor,
  a batch at a time), so a million rows never sit in memory and nobody sees more than in the list;
- header cells are the fields' labels in the reader's language; values are what screens show
  (choice and tag labels, yes/no, the titles of referenced records the reader may read, else
  ``#id``), datetimes in the reader's time zone (``FieldType.export_text``);
- fields the reader may not read are absent, even when the address names them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field as dc_field
from typing import Iterator
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response
from werkzeug.datastructures import MultiDict

from ..errors import BadRequest, error
from ..metadata.field_types import REGISTRY
from ..runtime.access import Access
from ..runtime.query import SYSTEM_FIELDS, Filter, ListQuery, parse_list_args
from ..i18n import Locale
from .controls import control
from .display import formatter as display_formatter
from .i18n import label as label_of, translate
from .pages import screen_label
from .display import title_field
from .spreadsheets import CSV_TYPE, XLSX_TYPE, csv_bytes, xlsx_bytes

#: Parameters of an export that are not list-query parameters.
EXPORT_PARAMS = ("format", "columns", "tz")
FORMATS = ("csv", "xlsx")
#: System columns an export may name in ``columns``, with the screen message that labels them.
SYSTEM_COLUMNS = {"id": "id", "created_at": "created", "updated_at": "updated"}
#: Controls whose values a screen shows by label or title (web.controls.display), not as typed.
LABELLED = frozenset({"boolean", "record", "choice", "choices"})
BATCH = 1000


@dataclass
class ExportView:
    """A list view, checked, ready to stream."""

    svc: object
    entity_key: str
    state: object
    query: ListQuery
    columns: list[dict]
    headers: list[str]
    access: Access
    lang: str
    tz: dt.tzinfo
    titles_of: dict = dc_field(default_factory=dict)

    def rows(self) -> Iterator[list[list[str]]]:
        """Batches of rows of cell texts. Opens its own connection, kept while the answer streams."""
        formatters = [self._formatter(f) for f in self.columns]
        keys = [f["key"] for f in self.columns]
        with self.svc.engine.connect() as conn:
            for records in self.svc.stream(self.entity_key, self.query, conn=conn, access=self.access, batch=BATCH,
                                           columns=keys):
                titles = self._titles(conn, records)
                yield [[fmt(r.get(k), titles) for k, fmt in zip(keys, formatters)] for r in records]

    def _formatter(self, field: dict):
        """A function (value, titles) → cell text for one column, decided once per export."""
        ftype = REGISTRY[field["type"]]
        lang, tz, state = self.lang, self.tz, self.state

        def plain(value, titles):
            return "" if value is None or value == "" else ftype.export_text(field, value, lang, tz)

        if control(field) not in LABELLED:
            return plain
        # labels, yes / no and titles exactly as the screens' display layer writes them (compiled once)
        return display_formatter(field, state, Locale(lang=lang, tz=tz))

    def _titles(self, conn, records: list[dict]) -> dict:
        """(target, id) → title of the references in one batch: one query per reference column, through
        the list (so a record the reader may not read stays ``#id``, as on screens)."""
        found: dict = {}
        model = self.svc.runtime.current(conn)
        for f in self.columns:
            target = REGISTRY[f["type"]].target_entity(f)
            ids = sorted({r.get(f["key"]) for r in records if isinstance(r.get(f["key"]), int)})
            if not ids or target not in model.entities or not self.access.can("read", target, model):
                continue
            key = title_field(model.entities[target].doc)
            lq = ListQuery(per_page=len(ids), filters=[Filter(SYSTEM_FIELDS["id"], "in", ids)], count_limit=len(ids))
            for r in self.svc.list(target, lq, conn=conn, access=self.access, model=model)["items"]:
                found[(target, r["id"])] = str(r[key]) if key and r.get(key) not in (None, "") else f"#{r['id']}"
        return found


def export_format(args) -> str:
    fmt = (args.get("format") or "csv").strip().lower()
    if fmt not in FORMATS:
        raise BadRequest([error("format", "enum", f"format must be one of: {', '.join(FORMATS)}")])
    return fmt


def time_zone(raw: str | None, default: dt.tzinfo = dt.timezone.utc) -> dt.tzinfo:
    """``tz``: an IANA zone name (``Asia/Shanghai``) or ``UTC``; 400 naming ``tz`` otherwise."""
    if raw is None or raw.strip() == "":
        return default
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest([error("tz", "unknown", f"'{raw}' is not a time zone; use a name such as Asia/Shanghai")]) from None


def prepare(svc, entity_key: str, args: MultiDict, *, access: Access, lang: str, tz: dt.tzinfo,
            default_columns=None) -> ExportView:
    """Check a view (entity, rights, list parameters, columns) before anything is sent.

    ``default_columns``: the fields to export when ``columns`` names none (the screen passes what its
    list shows); the API exports every readable field.
    """
    list_args = MultiDict([(k, v) for k, v in args.items(multi=True) if k not in EXPORT_PARAMS])
    with svc.engine.connect() as conn:
        model = svc.runtime.current(conn)
        entity = model.entity(entity_key)
        query = parse_list_args(list_args, entity, count_limit=None)
        svc.check_listing(entity_key, query, conn=conn, access=access, model=model)
    readable = [f for f in entity.fields if access.can_read_field(entity_key, f["key"], model)]
    chosen = [c.strip() for raw in args.getlist("columns") for c in raw.split(",") if c.strip()]
    if chosen:
        unknown = [c for c in chosen if c not in entity.field_map and c not in SYSTEM_COLUMNS]
        if unknown:
            raise BadRequest([error("columns", "unknown_field", f"no field '{c}' to export") for c in unknown])
        by_key = {f["key"]: f for f in readable}
        columns = [SYSTEM_FIELDS[c] if c in SYSTEM_COLUMNS else by_key[c] for c in dict.fromkeys(chosen)
                   if c in SYSTEM_COLUMNS or c in by_key]  # a field the reader may not read is absent
    else:
        columns = default_columns(readable) if default_columns is not None else readable
    headers = [translate(SYSTEM_COLUMNS[f["key"]], lang) if f["key"] in SYSTEM_COLUMNS and f is SYSTEM_FIELDS[f["key"]]
               else screen_label(f, lang) for f in columns]
    return ExportView(svc=svc, entity_key=entity_key, state=model.state, query=query, columns=columns,
                      headers=headers, access=access, lang=lang, tz=tz)


def file_name(entity_doc: dict, entity_key: str, fmt: str, lang: str) -> tuple[str, str]:
    """(ASCII fallback, UTF-8 name) of the download: the entity's label and today's date."""
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    label = label_of(entity_doc.get("plural_label") or entity_doc.get("label") or entity_key, lang)
    return f"{entity_key}-{today}.{fmt}", f"{label}-{today}.{fmt}"


def response(view: ExportView, fmt: str, entity_doc: dict):
    """The streamed download of a checked view."""
    ascii_name, name = file_name(entity_doc, view.entity_key, fmt, view.lang)
    if fmt == "xlsx":
        body, mimetype = xlsx_bytes(view.headers, view.rows(), sheet_title=name.rsplit("-", 3)[0]), XLSX_TYPE
    else:
        body, mimetype = csv_bytes(view.headers, view.rows()), CSV_TYPE
    out = Response(body, content_type=mimetype)  # mimetype= would add a second charset to the CSV's
    out.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    out.headers["Cache-Control"] = "no-store"  # what a user may read today is not for a shared cache
    return out
