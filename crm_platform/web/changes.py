"""A record's changes on its page: the audit trail (``runtime/audit.trail``) in the words of the screens."""
from __future__ import annotations

import sqlalchemy as sa

from ..runtime.audit import trail
from ..runtime.personal_data import ERASED
from ..tables import users
from .i18n import MESSAGES, label as label_of, translate
from .pages import Screen, screen_label

#: Audit entries on a record page, and with "show all".
CHANGES_SHOWN, CHANGES_ALL = 20, 500


def record_changes(screen: Screen, record_id: int, *, everything: bool = False) -> dict:
    """The record's audit trail as people read it: newest first, who, why, each field's label with
    its old and new value as the screens show values (fields the user may not read left out)."""
    limit = CHANGES_ALL if everything else CHANGES_SHOWN
    with screen.svc.engine.connect() as conn:
        total, items = trail(conn, screen.key, record_id, hidden=hidden_fields(screen), limit=limit)
        entries = described(conn, screen, items)
    return {"total": total, "entries": entries, "more": total > len(entries)}


def hidden_fields(screen: Screen) -> frozenset:
    return screen.access.rights(screen.key, screen.model).hidden if screen.access is not None else frozenset()


def described(conn, screen: Screen, items: list[dict]) -> list[dict]:
    """Audit items (``trail``'s) as entries: who, when, why and (label, old text, new text) per field."""
    owner_ids = {v for i in items for v in i["changes"].get("owner_id", []) if isinstance(v, int)}
    owners = dict(conn.execute(sa.select(users.c.id, users.c.username).where(users.c.id.in_(owner_ids))).all()
                  ) if owner_ids else {}
    fields = screen.entity.field_map
    shown = [f for k, f in fields.items() if any(k in i["changes"] for i in items)]
    shows = screen.display(screen.titles(shown, [{k: v} for i in items for k, pair in i["changes"].items() for v in pair
                                                 if v != ERASED]))

    def text(key, value):
        if value == ERASED:  # an erased personal value (runtime/personal_data.py), whatever the field's type
            return translate("erased_value", screen.lang)
        if key == "owner_id":
            return owners.get(value, f"#{value}") if value is not None else ""
        return shows.text(key, value) if key in fields else str(value)

    return [{"at": i["at"], "actor": i["actor"], "action": i["action"], "reason": reason_text(screen, i),
             "keys": list(i["changes"]),
             "changes": [(screen_label(fields[k], screen.lang) if k in fields else translate("owner", screen.lang)
                          if k == "owner_id" else k, text(k, old), text(k, new)) for k, (old, new) in i["changes"].items()]}
            for i in items]


def reason_text(screen: Screen, item: dict) -> str | None:
    """An audit item's reason as the reader reads it. One the system wrote (``reason_key``, e.g. an
    approval step: runtime/audit.Reason) is said in the reader's language, its pipeline and stages
    by their labels, a comment a user typed kept as typed; any other reason is shown as written."""
    key, args = item.get("reason_key"), item.get("reason_args")
    if not key or "reason_" + key not in MESSAGES or not isinstance(args, dict):
        return item["reason"]
    lang = screen.lang
    pipeline = screen.model.state.pipelines.get(args.get("pipeline"))
    doc = pipeline.doc if pipeline is not None else {}
    stages = {s["key"]: label_of(s["label"], lang) for s in doc.get("stages", [])}
    values = {k: v for k, v in args.items() if k != "comment"}
    values["pipeline"] = label_of(doc["label"], lang) if doc.get("label") else args.get("pipeline")
    for k in ("stage", "from_stage"):
        values[k] = stages.get(args.get(k), args.get(k))
    # definitions a reason names, by their labels in the reader's language (the key if gone)
    for k, kind in (("automation", "automation"), ("form", "form"), ("entity", "entity")):
        found = screen.model.state.of_kind(kind).get(args.get(k)) if args.get(k) else None
        label = found.doc.get("label") if found is not None else None
        if label:
            values[k] = label_of(label, lang)
    message = "reason_" + key
    if args.get("admin") and message + "_admin" in MESSAGES:  # an administrator acted for the approver / requester
        message += "_admin"
    try:
        text = translate(message, lang, **values)
    except (KeyError, IndexError):  # arguments of another shape than the message's: the words as written
        return item["reason"]
    comment = args.get("comment")
    return translate("reason_comment", lang, reason=text, comment=comment) if comment else text
