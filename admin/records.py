"""One Flask-Admin model view over the record service, serving the records of every entity.

Flask refuses new routes after the first request, so nothing is registered per entity: the view is
registered once at ``/admin/records/<entity>/`` and, per request, hands the work to a view built for
that entity at the current metadata revision (cached per revision, rebuilt when definitions change).
An entity created a minute ago is browsable at once, without a restart. Reads and writes go through
``RecordService`` with the signed-in user's access, so validation and messages are the API's.
"""
from __future__ import annotations

import threading

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import helpers as h
from flask_admin.actions import action
from flask_admin.helpers import get_form_data
from flask_admin.model import BaseModelView
from flask_admin.model.filters import BaseFilter
from werkzeug.datastructures import MultiDict

from crm_platform.errors import CrmError, NotFound
from crm_platform.i18n import Locale, field_label
from crm_platform.ids import parse_id
from crm_platform.metadata.field_types import REGISTRY
from crm_platform.http.context import access
from crm_platform.runtime.query import parse_list_args
from crm_platform.web.controls import options_of
from crm_platform.web.display import Display, reference_titles
from crm_platform.web.pages import user_tz

from .common import AdminOnly, actor_id, label_text, platform
from .plan_flow import attach_errors
from .i18n import language, lazy, t
from .record_form import (REASON, at_reason_input, expected_version, form_data, reason_label, record_form_class,
                          record_values)

#: Columns a list shows besides ``id``: the first fields of the definition.
LIST_FIELDS = 8
SYSTEM_DETAILS = ("version", "created_at", "updated_at", "created_by", "updated_by", "owner_id")
#: Filter operators, named by the admin messages ``op_<operator>``.
OPERATORS = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "contains", "starts_with", "ends_with", "has_any",
             "has_all", "has_none", "is_empty", "is_not_empty")


class RecordFilter(BaseFilter):
    """A list filter: ``filter[<field>][<op>]=value`` of the REST API, picked from a menu."""

    def __init__(self, field_key: str, op: str, name: str, options=None):
        super().__init__(name, options=options)
        self.field_key, self.op = field_key, op

    def operation(self):
        return t(f"op_{self.op}") if self.op in OPERATORS else self.op

    def validate(self, value) -> bool:
        return True  # the record service parses the value by the field's type and names what is wrong


class RecordView(AdminOnly, BaseModelView):
    can_view_details = True
    can_set_page_size = True
    page_size = 20
    page_size_options = (20, 50, 100)
    named_filter_urls = True
    details_modal = False
    details_template = "crm_admin/record_details.html"

    def __init__(self, entity=None, model=None, lang: str = "en"):
        #: None for the view registered with Flask-Admin; a CompiledEntity for the per-entity views.
        self.entity, self.compiled = entity, model
        #: the language of its names (column titles, filters, values): a view is built per language
        self.lang = lang
        self._views: dict[tuple[str, int, str], RecordView] = {}
        self._lock = threading.Lock()
        name = label_text(entity.doc.get("label"), lang) or entity.key if entity is not None else "Records"
        super().__init__(dict, name=name, endpoint="records", url="/admin/records/<entity>")

    # ---- one registered view, a view per entity behind it ------------------------------------------
    def is_visible(self) -> bool:
        return False  # reached from the home page and the entity designer, one link per entity

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)

        @blueprint.url_value_preprocessor
        def take_entity(endpoint, values):
            g.admin_entity = (values or {}).pop("entity", None)

        @blueprint.url_defaults
        def keep_entity(endpoint, values):
            if "entity" not in values and g.get("admin_entity"):
                values["entity"] = g.admin_entity

        return blueprint

    def _run_view(self, fn, *args, **kwargs):
        view = self._for(g.get("admin_entity"))
        h.set_current_view(view)
        return fn(view, *args, **kwargs)

    def _for(self, key: str | None) -> "RecordView":
        records = platform().records
        model = records.runtime.current()
        entity = model.entities.get(key or "")
        if entity is None or entity.archived or not access().can("read", entity.key, model):
            abort(404)
        lang = language()
        found = self._views.get((entity.key, model.revision, lang))
        if found is None:
            found = RecordView(entity, model, lang)
            found.admin, found.blueprint, found.url = self.admin, self.blueprint, self.url
            found.static_url_path = self.static_url_path
            with self._lock:
                if len(self._views) > 500:  # old revisions: drop them all, the live ones rebuild
                    self._views.clear()
                self._views[(entity.key, model.revision, lang)] = found
        return found

    # ---- scaffolding from the entity definition --------------------------------------------------
    def _fields(self) -> list[dict]:
        if self.entity is None:
            return []
        a = access()
        return [f for f in self.entity.fields if a.can_read_field(self.entity.key, f["key"], self.compiled)]

    def get_pk_value(self, model):
        return model["id"]

    def scaffold_list_columns(self):
        return ["id"] + [f["key"] for f in self._fields()][:LIST_FIELDS]

    def get_details_columns(self):
        keys = ["id"] + [f["key"] for f in self._fields()] + list(SYSTEM_DETAILS)
        return [(k, self.get_column_name(k)) for k in keys]

    def get_export_columns(self):
        return self.get_list_columns()

    def scaffold_sortable_columns(self):
        keys = ["id", "created_at", "updated_at"] + [
            f["key"] for f in self._fields() if not REGISTRY[f["type"]].multi_valued]
        return {k: k for k in keys}

    def get_column_name(self, field):
        if self.entity is not None and field in self.entity.field_map:
            return field_label(self.entity.field_map[field], self.lang)  # the screens' rule
        return self._prettify_name(field)

    def init_search(self):
        return any(REGISTRY[f["type"]].searchable for f in self._fields())

    def search_placeholder(self):
        return t("rec_search")

    def get_filter_arg(self, index, flt):
        """The filter's name in the URL: the field key and the operator's English name, whatever the
        language of the page (``course_equals``), so a link works for every reader."""
        from .i18n import MESSAGES
        op = MESSAGES[f"op_{flt.op}"]["en"] if flt.op in OPERATORS else flt.op
        return f"{flt.field_key} {op}".lower().replace(" ", "_")

    def get_filters(self):
        if self.entity is None:
            return None
        out = []
        for f in self._fields():
            ftype = REGISTRY[f["type"]]
            options = None
            if ftype.control_of(f) in ("choice", "choices"):
                options = options_of(f, self.compiled.state, self.lang)
            for op in ftype.operators_of(f) + ("is_empty", "is_not_empty"):
                out.append(RecordFilter(f["key"], op, self.get_column_name(f["key"]),
                                        options if op in ("eq", "ne") else None))
        return out

    def scaffold_form(self):
        # The real form is built per request (reference choices and field rights change); see _form.
        return type("EmptyRecordForm", (self.form_base_class,), {})

    def scaffold_list_form(self, widget=None, validators=None):
        return self.scaffold_form()

    def _form(self, record: dict | None = None):
        records = platform().records
        form_class = record_form_class(self.entity, self.compiled, records, access(), self.form_base_class)
        formdata = get_form_data()
        return form_class(formdata, data=None if formdata or record is None else form_data(self.entity, record))

    def create_form(self, obj=None):
        return self._form()

    def edit_form(self, obj=None):
        return self._form(obj)

    # ---- values in lists and details -------------------------------------------------------------
    def _get_field_value(self, model, name):
        """Values as the screens show them (``web/display.py``): choice and tag labels, yes / no,
        titles of referenced records, grouped amounts, times in the reader's zone."""
        value = model.get(name)
        if self.entity is None or name not in self.entity.field_map or value is None:
            return value
        return Display(self.compiled, self.entity, Locale(self.lang, user_tz()), g.get("admin_titles")).text(name, value)

    def _remember_titles(self, items: list[dict]) -> None:
        """Titles of the records the shown references name, for ``_get_field_value`` (one query per target)."""
        a = access()
        g.admin_titles = reference_titles(platform().records, self.compiled, self._fields(), items, {"access": a},
                                          lambda target: a.can("read", target, self.compiled))

    # ---- reads through the record service --------------------------------------------------------
    def get_list(self, page, sort_field, sort_desc, search, filters, page_size=None):
        args = MultiDict({"page": str((page or 0) + 1), "per_page": str(page_size or self.page_size)})
        if sort_field:
            args["sort"] = f"-{sort_field}" if sort_desc else sort_field
        if search:
            args["q"] = search
        for idx, _name, value in filters or []:
            flt = self._filters[idx]
            param = f"filter[{flt.field_key}][{flt.op}]"
            if flt.op in ("is_empty", "is_not_empty"):
                args.add(param, "")
            else:
                args.add(param, value)
        records = platform().records
        try:
            query = parse_list_args(args, self.entity, max_per_page=500)
            page_of = records.list(self.entity.key, query, access=access())
        except CrmError as exc:
            for e in exc.errors:
                flash(e["message"], "error")
            return 0, []
        self._remember_titles(page_of["items"])
        return page_of["total"], page_of["items"]

    def changes_of(self, record: dict) -> dict:
        """The record's audit trail for its details page (latest 50, newest first)."""
        from crm_platform.runtime.audit import trail
        hidden = access().rights(self.entity.key, self.compiled).hidden
        with platform().records.engine.connect() as conn:
            total, items = trail(conn, self.entity.key, record["id"], hidden=hidden, limit=50)
        return {"total": total, "items": items}

    def get_one(self, id):
        """The record, or None (Flask-Admin then says it does not exist); an id that is no id at all
        (not a whole number, or beyond what the column holds) is 404, as in the API and screens."""
        record_id = parse_id(id)
        if record_id is None:
            abort(404)
        try:
            record = platform().records.get(self.entity.key, record_id, access=access())
        except NotFound:
            return None
        self._remember_titles([record])
        return record

    # ---- writes through the record service -------------------------------------------------------
    def _refused(self, form, exc: CrmError) -> bool:
        for e in attach_errors(form, [at_reason_input(e) for e in exc.errors]):
            flash(f"{e['field']}: {e['message']}" if e.get("field") else e["message"], "error")
        return False

    def create_model(self, form):
        a = access()
        values = record_values(self.entity, form, self.compiled, a)
        try:
            return platform().records.create(self.entity.key, values, actor_id=actor_id(), access=a,
                                             reason=_reason(form))
        except CrmError as exc:
            return self._refused(form, exc)

    def update_model(self, form, model):
        a = access()
        values = record_values(self.entity, form, self.compiled, a, before=model)
        try:
            updated = platform().records.update(self.entity.key, model["id"], values,
                                                expected_version=expected_version(form, model),
                                                actor_id=actor_id(), access=a, reason=_reason(form))
        except CrmError as exc:
            return self._refused(form, exc)
        model.update(updated)
        return True

    def reason_required(self) -> bool:
        return self.entity is not None and bool(self.entity.doc.get("require_change_reason"))

    def get_list_row_actions(self):
        # The list's delete button posts no reason: where one is required, records are deleted from
        # their details page, whose delete form asks for it.
        actions = super().get_list_row_actions()
        if self.reason_required():
            from flask_admin.model.template import DeleteRowAction
            actions = [a for a in actions if not isinstance(a, DeleteRowAction)]
        return actions

    @action("handover", lazy("h_action"))
    def action_handover(self, ids):
        """The records ticked in the list, handed over on the hand-over page (which asks to whom and why)."""
        return redirect(url_for("users.handover", entity=self.entity.key, ids=", ".join(ids)))

    def delete_model(self, model):
        try:
            platform().records.delete(self.entity.key, model["id"], actor_id=actor_id(), access=access(),
                                      reason=(request.form.get(REASON) or "").strip() or None)
        except CrmError as exc:
            for e in map(at_reason_input, exc.errors):
                flash(f"{reason_label()}: {e['message']}" if e.get("field") == REASON else e["message"], "error")
            return False
        return True


def _reason(form) -> str | None:
    text = (form[REASON].data or "").strip() if REASON in form else ""
    return text or None
