"""The search page, ``/app/_search?q=``: what the top bar's search box finds, grouped by entity.

It runs the same search as ``GET /api/search`` (``runtime/search.py``, the reader's rights) and
names each record's matched fields by label with the matched text marked. A phone number matched
through its digits ("155 1565" in "+86 155-1565-1234") is marked whole.
"""
from __future__ import annotations

from flask import request
from markupsafe import Markup, escape

from ..http.context import access
from ..match_keys import text_key
from ..runtime import search
from .display import title_field
from .i18n import current_language
from .pages import entity_label, platform, render, screen_label
from .screens import screens

PER_ENTITY = 20


def run_search(q: str, limit: int = search.LIMIT, entities: list[str] | None = None) -> list[dict]:
    """The signed-in user's search (the API's and this page's): records they may read, ``limit`` per entity."""
    svc = platform().records
    with svc.engine.connect() as conn:
        pending = search.has_pending(conn)
    if pending:  # a bulk write's records the worker has not indexed yet: now, so that none is missed
        search.drain(svc.engine, svc.runtime)
    with svc.engine.connect() as conn:
        model = svc.runtime.current(conn)
        return search.search(conn, model, access(), q, title_key=title_field, limit=limit, entities=entities)


def highlight(value, query: str) -> Markup:
    """``value`` escaped, its first case-insensitive occurrence of ``query`` in ``<mark>``; the whole
    value marked when the match was not literal (a phone's digits, full-width forms)."""
    text = "" if value is None else str(value)
    needle = (query or "").strip()
    at = text.casefold().find(needle.casefold()) if needle else -1
    if at < 0 or len(text.casefold()) != len(text):
        return Markup("<mark>%s</mark>") % text
    end = at + len(needle)
    return escape(text[:at]) + Markup("<mark>%s</mark>") % text[at:end] + escape(text[end:])


@screens.get("/app/_search")
def search_page():
    lang = current_language()
    q = request.args.get("q", "")[:search.MAX_QUERY]
    groups = []
    if text_key(q):
        model = platform().records.runtime.current()
        by_entity: dict[str, dict] = {}
        for hit in run_search(q, PER_ENTITY):
            entity = model.entity(hit["entity"])
            group = by_entity.get(entity.key)
            if group is None:
                group = by_entity[entity.key] = {"key": entity.key, "label": entity_label(entity.doc, lang, plural=True),
                                                 "items": []}
                groups.append(group)
            group["items"].append({"id": hit["id"], "title": hit["title"],
                                   "matches": [{"label": screen_label(entity.field_map[m["field"]], lang),
                                                "text": highlight(m["value"], q)} for m in hit["matches"]]})
    return render("web/search.html", q=q, groups=groups, per_entity=PER_ENTITY)
