"""Kanban boards: a column per active stage of a pipeline, a card per record, moves by drag and drop.

A move is an ordinary update of the stage field through the record service, so the pipeline's
before-write hook judges it exactly as it judges an API PATCH (allowed transitions, required
fields); the page shows its refusal on the card and puts the card back. A move refused because
the stage requires fields the record leaves empty answers with those fields (``fill``): the card
opens them in a small form and the move is tried again with their values, in one update.

The board fits any screen: it scrolls sideways inside itself, each column scrolls inside itself
and asks for its next cards (``/app/<entity>/board/cards``) as the reader nears its end, so the
page is as tall as the window whatever the number of records. A card shows its owner and the
pipeline's amount.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ..errors import BadRequest, CrmError, NotFound, error
from ..clock import utcnow
from ..runtime.pipelines import pipelines_of, summary
from ..runtime.query import parse_list_args
from ..metadata.field_types import REGISTRY
from ..runtime.query import int_param
from ..tables import users
from .controls import control, options_of
from .i18n import label as label_of, translate
from .inline_cells import cell_value
from .messages import REASON_MAX, for_page, posted_reason, reason_required
from .pages import Screen, as_user, reading, render, title_field, user_tz
from .screens import screens

#: Cards per column and per "load more": a column asks for the next ones as it is scrolled.
CARDS_PER_COLUMN = 20
CARD_FIELDS = 3


def _pipeline(screen: Screen) -> dict:
    found = pipelines_of(screen.model, screen.key)
    if not found:
        raise NotFound([error(None, "no_pipeline", f"no pipeline uses a stage field of {screen.key}")])
    wanted = request.args.get("pipeline")
    if wanted:
        for p in found:
            if p["key"] == wanted:
                return p
        raise NotFound([error("pipeline", "not_found", f"no active pipeline '{wanted}' for {screen.key}")])
    return found[0]


class Cards:
    """How one board writes its cards: the fields shown, the amount, owners' names."""

    def __init__(self, screen: Screen, pipeline: dict):
        self.screen, self.pipeline = screen, pipeline
        field = pipeline["field"]
        amount = pipeline.get("amount_field")
        self.amount = amount if amount and amount in screen.entity.field_map and screen.readable(amount) else None
        title = title_field(screen.entity.doc)
        self.shown = [f for f in screen.fields if f["key"] not in (field, title, self.amount)
                      and control(f) != "textarea"][:CARD_FIELDS]

    def page(self, stage: str, page: int) -> tuple[list[dict], int]:
        screen, field = self.screen, self.pipeline["field"]
        query = parse_list_args(MultiDict({f"filter[{field}]": stage, "per_page": str(CARDS_PER_COLUMN), "page": str(page)}),
                                screen.entity, max_per_page=CARDS_PER_COLUMN)
        found = screen.svc.list(screen.key, query, **reading())
        items = found["items"]
        shown = self.shown + ([screen.entity.field_map[self.amount]] if self.amount else [])
        shows = screen.display(screen.titles(shown, items))
        owners = _user_names({r.get("owner_id") for r in items} - {None})
        cards = [{"id": r["id"], "version": r["version"], "title": screen.title_of(r),
                  "owner": owners.get(r.get("owner_id")) if r.get("owner_id") is not None else None,
                  "amount": shows.text(self.amount, r.get(self.amount)) if self.amount and r.get(self.amount) is not None else None,
                  "lines": [(label_of(f.get("label"), screen.lang) or f["key"], shows.text(f["key"], r.get(f["key"])))
                            for f in self.shown if r.get(f["key"]) not in (None, "", [])]}
                 for r in items]
        return cards, found["total"]


def _user_names(ids: set) -> dict:
    if not ids:
        return {}
    from ..http.context import platform
    with platform().engine.connect() as conn:
        return dict(conn.execute(sa.select(users.c.id, users.c.username).where(users.c.id.in_(ids))).all())


def _stages(pipeline: dict) -> list[dict]:
    return [s for s in pipeline["stages"] if not s.get("archived")]


@screens.get("/app/<entity>/board")
def board(entity):
    screen = Screen(entity)
    screen.require("read")
    pipeline = _pipeline(screen)
    field = pipeline["field"]
    if not screen.readable(field):
        raise NotFound([error(None, "not_found", f"no board for {entity}")])
    with screen.svc.engine.connect() as conn:
        figures = summary(conn, screen.model, pipeline, None, utcnow(), screen.access)
    by_stage = {s["key"]: s for s in figures["stages"]}
    writer = Cards(screen, pipeline)
    amount_field = screen.entity.field_map.get(writer.amount) if writer.amount else None
    shows = screen.display()
    columns = []
    for stage in _stages(pipeline):
        cards, total = writer.page(stage["key"], 1)
        figures_here = by_stage.get(stage["key"], {})
        amount = figures_here.get("amount")
        columns.append({
            "key": stage["key"], "label": label_of(stage["label"], screen.lang), "category": stage.get("category", "open"),
            "count": figures_here.get("count", total),
            "amount": shows.text(amount_field["key"], amount) if amount_field is not None and amount is not None else amount,
            "cards": cards,
        })
    others = [p for p in pipelines_of(screen.model, entity) if p["key"] != pipeline["key"]]
    return render("web/board.html", screen=screen, pipeline=pipeline, columns=columns, others=others,
                  can_move=screen.can("update") and screen.writable(field), per_column=CARDS_PER_COLUMN,
                  reason_required=reason_required(screen.entity.doc), reason_max=REASON_MAX,
                  cards_url=url_for("screens.board_cards", entity=entity),
                  move_url=url_for("screens.move_card", entity=entity, record_id=0)[:-len("/0/stage")])


@screens.get("/app/<entity>/board/cards")
def board_cards(entity):
    """The next cards of one column: ``?stage=<key>&page=<n>`` (``pipeline`` as the board's) →
    ``{"html", "page", "has_more"}``, the cards as the board writes them."""
    screen = Screen(entity)
    screen.require("read")
    pipeline = _pipeline(screen)
    if not screen.readable(pipeline["field"]):
        raise NotFound([error(None, "not_found", f"no board for {entity}")])
    stage = request.args.get("stage", "")
    columns = _stages(pipeline)
    if stage not in {s["key"] for s in columns}:
        raise BadRequest([error("stage", "invalid", f"'{stage}' is not an active stage of {pipeline['key']}")])
    page = int_param(request.args, "page", 1, 1, 100000)
    cards, total = Cards(screen, pipeline).page(stage, page)
    lang = screen.lang
    html = render_template("web/_kcards.html", cards=cards, screen=screen, col={"key": stage},
                           columns=[{"key": s["key"], "label": label_of(s["label"], lang)} for s in columns],
                           can_move=screen.can("update") and screen.writable(pipeline["field"]),
                           t=lambda key, **v: translate(key, lang, **v))
    return jsonify({"html": html, "page": page, "has_more": page * CARDS_PER_COLUMN < total})


@screens.post("/app/<entity>/<id:record_id>/stage")
def move_card(entity, record_id):
    """Move one card: ``{"field", "stage", "version", "reason"}`` → the record, or the refusal as JSON
    (localised, each error with the ``label`` of its field: the card shows it as it is)."""
    screen = Screen(entity)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("stage"), str):
        raise BadRequest([error("stage", "required", "send {\"stage\": \"<stage key>\", \"version\": n}")])
    field = body.get("field") or _pipeline(screen)["field"]
    version = body.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise BadRequest([error("version", "type", "must be a whole number")])
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadRequest([error("reason", "type", "must be text")])
    values = _filled(screen, body.get("values"), field)
    try:
        record = screen.svc.update(entity, record_id, {**values, field: body["stage"]}, expected_version=version,
                                   reason=posted_reason(reason), **as_user())
    except CrmError as exc:
        answer = {**exc.body(), "errors": for_page(exc.errors, screen)}
        missing = [e["field"] for e in exc.errors if e.get("code") == "required" and e.get("stage") == body["stage"]]
        if missing:
            answer["fill"] = _fill_controls(screen, record_id, missing, body.get("values"))
        return jsonify(answer), exc.status
    answer = {"id": record["id"], "version": record["version"], "stage": record.get(field)}
    if record.get(field) != body["stage"]:  # held for approval (docs/approvals.md): the card stays
        stage = next((s for s in _pipeline(screen)["stages"] if s["key"] == body["stage"]), None)
        answer["message"] = translate("approval_requested_card", screen.lang,
                                      stage=label_of(stage["label"], screen.lang) if stage else body["stage"])
    return jsonify(answer)


def _filled(screen: Screen, values, stage_field: str) -> dict:
    """The fields a card's small form sent with a retried move, read as their forms read them."""
    if values is None:
        return {}
    if not isinstance(values, dict) or any(not isinstance(v, str) for v in values.values()):
        raise BadRequest([error("values", "type", "send {\"values\": {field: text}}")])
    tz, out = user_tz(), {}
    for key, raw in values.items():
        f = screen.entity.field_map.get(key)
        if f is None or key == stage_field or not screen.readable(key):
            raise BadRequest([error("values", "invalid", f"'{key}' is not a field of {screen.key}")])
        out[key] = REGISTRY[f["type"]].from_form(f, raw, tz)
    return out


def _fill_controls(screen: Screen, record_id: int, keys: list[str], sent) -> list[dict]:
    """The fields a stage asks for, as small controls: label, control, choices, the value sent or held."""
    record = screen.svc.get(screen.key, record_id, **reading())
    tz, out = user_tz(), []
    for key in dict.fromkeys(keys):
        f = screen.entity.field_map.get(key)
        if f is None or not screen.writable(key):
            continue
        value = (sent or {}).get(key) if isinstance(sent, dict) and isinstance((sent or {}).get(key), str) \
            else cell_value(f, record.get(key), tz)
        out.append({"field": key, "label": label_of(f.get("label"), screen.lang) or key, "control": control(f),
                    "options": options_of(f, screen.state, screen.lang), "value": value})
    return out
