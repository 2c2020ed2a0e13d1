"""Kanban boards: a column per active stage of a pipeline, a card per record, moves by drag and drop.

A move is an ordinary update of the stage field through the record service, so the pipeline's
before-write hook judges it exactly as it judges an API PATCH (allowed transitions, required
fields); the page shows its refusal on the card and puts the card back.
"""
from __future__ import annotations

from flask import jsonify, request, url_for
from werkzeug.datastructures import MultiDict

from ..errors import BadRequest, CrmError, NotFound, error
from ..clock import utcnow
from ..runtime.pipelines import pipelines_of, summary
from ..runtime.query import parse_list_args
from .controls import control
from .i18n import label as label_of, translate
from .messages import REASON_MAX, for_page, posted_reason, reason_required
from .pages import Screen, as_user, reading, render, title_field
from .screens import screens

#: Cards shown per column; the column's count says how many there are in all.
CARDS_PER_COLUMN = 50
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
    title = title_field(screen.entity.doc)
    shown = [f for f in screen.fields if f["key"] not in (field, title) and control(f) != "textarea"][:CARD_FIELDS]
    columns = []
    for stage in [s for s in pipeline["stages"] if not s.get("archived")]:
        query = parse_list_args(MultiDict({f"filter[{field}]": stage["key"], "per_page": str(CARDS_PER_COLUMN)}), screen.entity,
                                max_per_page=CARDS_PER_COLUMN)
        page = screen.svc.list(entity, query, **reading())
        shows = screen.display(screen.titles(shown, page["items"]))
        figures_here = by_stage.get(stage["key"], {})
        columns.append({
            "key": stage["key"], "label": label_of(stage["label"], screen.lang), "category": stage.get("category", "open"),
            "count": figures_here.get("count", page["total"]), "amount": figures_here.get("amount"),
            "cards": [{"id": r["id"], "version": r["version"], "title": screen.title_of(r),
                       "lines": [(label_of(f.get("label"), screen.lang) or f["key"], shows.text(f["key"], r.get(f["key"])))
                                 for f in shown if r.get(f["key"]) not in (None, "", [])]}
                      for r in page["items"]],
        })
    others = [p for p in pipelines_of(screen.model, entity) if p["key"] != pipeline["key"]]
    return render("web/board.html", screen=screen, pipeline=pipeline, columns=columns, others=others,
                  can_move=screen.can("update") and screen.writable(field),
                  reason_required=reason_required(screen.entity.doc), reason_max=REASON_MAX,
                  move_url=url_for("screens.move_card", entity=entity, record_id=0)[:-len("/0/stage")])


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
    try:
        record = screen.svc.update(entity, record_id, {field: body["stage"]}, expected_version=version,
                                   reason=posted_reason(reason), **as_user())
    except CrmError as exc:
        return jsonify({**exc.body(), "errors": for_page(exc.errors, screen)}), exc.status
    answer = {"id": record["id"], "version": record["version"], "stage": record.get(field)}
    if record.get(field) != body["stage"]:  # held for approval (docs/approvals.md): the card stays
        stage = next((s for s in _pipeline(screen)["stages"] if s["key"] == body["stage"]), None)
        answer["message"] = translate("approval_requested_card", screen.lang,
                                      stage=label_of(stage["label"], screen.lang) if stage else body["stage"])
    return jsonify(answer)
