"""What every screen needs: the current model, the user's rights, language, time zone, titles."""
from __future__ import annotations

from functools import cached_property

from flask import g, render_template

from ..errors import CrmError, Forbidden, NotFound, error
from ..http.context import access, actor_id, platform, user_tz  # noqa: F401 - user_tz: shared with the screens
from ..metadata.field_types import REGISTRY
from ..i18n import Locale, field_label
from ..runtime.query import ListQuery
from .display import Display, record_title, reference_titles, title_field
from .i18n import current_language, label as label_of, localise, translate

def as_user() -> dict:
    """Keyword arguments that make a record service call act as the signed-in user."""
    return {"actor_id": actor_id(), "access": access()}


def reading() -> dict:
    return {"access": access()}


class Screen:
    """One entity as the signed-in user may see it, at the revision read for this request."""

    def __init__(self, entity_key: str):
        self.svc = platform().records
        self.model = self.svc.runtime.current()
        self.state = self.model.state
        entity = self.model.entities.get(entity_key)
        if entity is None or entity.archived:
            raise NotFound([error(None, "not_found", f"no entity '{entity_key}'")])
        self.entity = entity
        self.key = entity_key
        self.lang = current_language()
        self.access = access()

    def can(self, op: str, entity_key: str | None = None) -> bool:
        return self.access.can(op, entity_key or self.key, self.model)

    def require(self, op: str) -> None:
        if not self.can(op):
            raise Forbidden([error(None, "forbidden", translate("not_allowed", self.lang))])

    def readable(self, field_key: str, entity_key: str | None = None) -> bool:
        return self.access.can_read_field(entity_key or self.key, field_key, self.model)

    def writable(self, field_key: str) -> bool:
        return self.access.can_write_field(self.key, field_key, self.model)

    @cached_property
    def fields(self) -> list[dict]:
        """The fields this user may read, in definition order."""
        return [f for f in self.entity.fields if self.readable(f["key"])]

    @property
    def label(self) -> str:
        return entity_label(self.entity.doc, self.lang, plural=True)

    @property
    def singular(self) -> str:
        return entity_label(self.entity.doc, self.lang)

    def title_of(self, record: dict) -> str:
        return record_title(self.entity.doc, record, self.title_key)

    @cached_property
    def title_key(self) -> str:
        """The title field, when this user may read it ("" otherwise: records are then ``#id``)."""
        key = title_field(self.entity.doc)
        return key if key and self.readable(key) else ""

    @cached_property
    def locale(self) -> Locale:
        return Locale(self.lang, user_tz())

    def titles(self, fields: list[dict], records: list[dict]) -> dict:
        """(target entity, id) → title for the reference values of ``records``, one query per target."""
        return reference_titles(self.svc, self.model, fields, records, reading(), lambda target: self.can("read", target))

    def display(self, titles: dict | None = None) -> Display:
        """This entity's values as text for this reader (compiled once per revision and locale)."""
        return Display(self.model, self.entity, self.locale, titles)


def entity_label(doc: dict, lang: str, *, plural: bool = False) -> str:
    value = (doc.get("plural_label") if plural else None) or doc.get("label")
    return label_of(value, lang) if value else doc["key"].replace("_", " ").capitalize()


def screen_label(field: dict, lang: str) -> str:
    """A field's label in the page's language; its key, readable, when it has none (``field_label``)."""
    return field_label(field, lang)


def record_options(screen: Screen, field: dict):
    """Choices of a reference control: up to RECORD_CHOICES records of the target, by title; None
    (a plain id input) when the target holds more or the user may not read it."""
    from .controls import RECORD_CHOICES
    target = REGISTRY[field["type"]].target_entity(field)
    if target not in screen.model.entities or screen.model.entities[target].archived or not screen.can("read", target):
        return None
    entity = screen.model.entity(target)
    key = title_field(entity.doc)
    sort = [(key, False)] if key and REGISTRY[entity.field_map[key]["type"]].searchable else []
    page = screen.svc.list(target, ListQuery(per_page=RECORD_CHOICES, sort=sort, count_limit=RECORD_CHOICES),
                           **reading())
    if not page["total_exact"] or page["total"] > RECORD_CHOICES:
        return None
    return [(str(r["id"]), record_title(entity.doc, r, key)) for r in page["items"]]


def menu(lang: str, model=None) -> list[dict]:
    """Entities the user may read, for the navigation (none on public pages: nobody is signed in)."""
    if g.get("user") is None:
        return []
    model = model or platform().records.runtime.current()
    acc = access()
    items = []
    for e in model.active():
        if acc.can("read", e.key, model):
            items.append({"key": e.key, "label": entity_label(e.doc, lang, plural=True)})
    return sorted(items, key=lambda i: i["label"].casefold())


def unread_notifications() -> int:
    """The bell's count on every signed-in page (``notifications.bell_count``: briefly remembered)."""
    user = g.get("user")
    if user is None:
        return 0
    from .. import notifications
    return notifications.bell_count(platform().engine, user.id)


def render(template: str, status: int = 200, **context):
    """A screen in the reader's language, with the top bar (``chrome.topbar``) and its bell."""
    lang = context.pop("lang", None) or current_language()
    return render_template(template, lang=lang, t=lambda key, **v: translate(key, lang, **v),
                           label=lambda value: label_of(value, lang), user=g.get("user"),
                           unread=unread_notifications(), **context), status


def refusal_page(refusal: CrmError):
    """The error page in the reader's language, for a refusal met before any view ran."""
    return render("web/error.html", refusal.status, errors=localise(refusal.errors, current_language()),
                  public=g.get("user") is None)

