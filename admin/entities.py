"""Entity and field designer: list, create, edit, reorder, archive and restore — each save planned first."""
from __future__ import annotations

from flask import abort, request, url_for
from flask_admin import BaseView, expose
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from crm_platform.errors import CrmError, Invalid, error
from crm_platform.metadata.field_types import REGISTRY
from crm_platform.metadata.keys import table_name
from crm_platform.http.context import access
from crm_platform.runtime.query import ListQuery

from crm_platform.metadata.keys import propose_key

from .common import (AdminOnly, DesignerForm, actor, label_data, label_from, label_inputs, label_shown, label_text,
                     platform)
from .i18n import lazy, t
from .field_forms import SPARE_ROWS, field_data, field_doc, field_form_class, locate_field_error, type_title
from .plan_flow import attach_errors, going_back, run_change
from .rows import posted_rows


EntityForm = type("EntityForm", (DesignerForm,), {
    "key": StringField(lazy("f_entity_key"), validators=[Optional(), Length(max=40)]),
    **label_inputs("label", "f_name"),
    **label_inputs("plural_label", "f_plural"),
    **label_inputs("description", "f_description", max_length=4000),
    "title_field": SelectField(lazy("f_title_field"), choices=[], validate_choice=False),
    "list_columns": SelectMultipleField(lazy("f_list_columns"), choices=[], validate_choice=False),
    "require_change_reason": BooleanField(lazy("f_require_reason")),
})


class RenameForm(DesignerForm):
    new_key = StringField(lazy("f_new_key"), validators=[Optional(), Length(max=63)])


def entity_doc_from(form, key: str | None = None) -> dict:
    data = form.data
    # A blank key is made from the name (Chinese as pinyin), as the page's script proposes it.
    taken = platform().metadata.state().entities
    doc = {"key": key or (data.get("key") or "").strip()
           or propose_key(data.get("label_zh") or data.get("label_en") or "", taken, entity=True)}
    label = label_from(data, "label")
    if label:
        doc["label"] = label
    plural = label_from(data, "plural_label")
    doc["plural_label"] = plural
    doc["description"] = label_from(data, "description")
    doc["title_field"] = data.get("title_field") or None
    doc["list_columns"] = [c for c in data.get("list_columns") or [] if c] or None
    doc["require_change_reason"] = True if data.get("require_change_reason") else None
    return doc


class EntityDesignerView(AdminOnly, BaseView):
    # ---- reading ---------------------------------------------------------------------------------
    def _state(self):
        return platform().metadata.state()

    def _entity(self, key: str, *, active: bool = True):
        found = self._state().entities.get(key)
        if found is None or (active and found.archived):
            abort(404)
        return found

    @expose("/")
    def index(self):
        state = self._state()
        counts = _record_counts([k for k, s in state.entities.items() if not s.archived])
        rows = [{"key": k, "label": label_text(s.doc.get("label"), "en"), "label_zh": label_text(s.doc.get("label"), "zh"),
                 "fields": len(s.fields), "archived": s.archived, "records": counts.get(k)}
                for k, s in state.entities.items()]
        return self.render("crm_admin/entities.html", rows=rows, revision=state.revision)

    @expose("/<key>/")
    def detail(self, key):
        entity = self._entity(key, active=False)
        doc = entity.doc
        fields = [{"key": f["key"], "type": f["type"], "type_title": type_title(f["type"]),
                   "label": label_text(f.get("label"), "en") or f["key"], "label_zh": label_text(f.get("label"), "zh"),
                   "required": f.get("required", False), "unique": f.get("unique", False),
                   "summary": _option_summary(f)} for f in entity.fields]
        archived = [{"key": f["key"], "type": type_title(f["type"]), "label": label_shown(f.get("label")) or f["key"]}
                    for f in entity.archived_fields]
        return self.render("crm_admin/entity.html", key=key, doc=doc, name=_name(doc), archived=entity.archived, fields=fields,
                           archived_fields=archived, table=table_name(key),
                           types=[(name, type_title(name)) for name in REGISTRY])

    # ---- entity-level changes --------------------------------------------------------------------
    @expose("/new", methods=("GET", "POST"))
    def create(self):
        form = EntityForm(request.form if request.method == "POST" else None)
        form.title_field.choices = [SelectChoice("", t("none_yet"))]

        def render_form(errors=(), plan=None):
            attach_errors(form, list(errors), _locate_entity_error)
            return self.render("crm_admin/entity_form.html", form=form, errors=list(errors), plan=plan, creating=True)

        if request.method == "GET" or going_back():
            return render_form()
        doc = entity_doc_from(form)
        doc = {k: v for k, v in doc.items() if v is not None}
        doc.setdefault("fields", [])

        def change(**apply):
            return platform().metadata.create_definition("entity", doc, actor=actor(), **apply)

        return run_change(self, change, render_form=render_form, done_url=url_for(".detail", key=doc["key"] or "_"),
                          title=t("t_create_entity", name=_name(doc)))

    @expose("/<key>/edit", methods=("GET", "POST"))
    def edit(self, key):
        entity = self._entity(key)
        doc = entity.doc
        form = EntityForm(request.form if request.method == "POST" else None,
                          data=None if request.method == "POST" else {
                              **label_data(doc.get("label"), "label"), **label_data(doc.get("plural_label"), "plural_label"),
                              **label_data(doc.get("description"), "description"),
                              "title_field": doc.get("title_field", ""),
                              "list_columns": doc.get("list_columns", []),
                              "require_change_reason": doc.get("require_change_reason", False)})
        form.title_field.choices = [SelectChoice("", t("none"))] + [
            SelectChoice(f["key"], f"{label_shown(f.get('label')) or f['key']} ({f['key']})") for f in entity.fields]
        form.list_columns.choices = [SelectChoice(f["key"], f"{label_shown(f.get('label')) or f['key']} ({f['key']})")
                                     for f in entity.fields]

        def render_form(errors=(), plan=None):
            attach_errors(form, list(errors), _locate_entity_error)
            return self.render("crm_admin/entity_form.html", form=form, errors=list(errors), plan=plan, creating=False, key=key,
                               name=_entity_name(key))

        if request.method == "GET" or going_back():
            return render_form()
        patch = entity_doc_from(form, key)
        patch.pop("key")

        def change(**apply):
            return platform().metadata.update_definition("entity", key, patch, actor=actor(), **apply)

        return run_change(self, change, render_form=render_form, done_url=url_for(".detail", key=key),
                          title=t("t_change_entity", name=_entity_name(key)))

    @expose("/<key>/archive", methods=("POST",))
    def archive(self, key):
        return self._simple(lambda **apply: platform().metadata.archive_definition("entity", key, actor=actor(), **apply),
                            url_for(".index"), t("t_archive_entity", name=_entity_name(key)), entity=key)

    @expose("/<key>/restore", methods=("POST",))
    def restore(self, key):
        return self._simple(lambda **apply: platform().metadata.restore_definition("entity", key, actor=actor(), **apply),
                            url_for(".detail", key=key), t("t_restore_entity", name=_entity_name(key)), entity=key)

    @expose("/<key>/move", methods=("POST",))
    def move(self, key):
        """Move a field one place up or down (a metadata change with no DDL, planned like any other)."""
        field_key, direction = request.form.get("field", ""), request.form.get("direction", "")

        def change(**apply):
            keys = [f["key"] for f in self._entity(key).fields]
            if field_key not in keys or direction not in ("up", "down"):
                raise Invalid([error("field", "invalid", f"no field '{field_key}' to move {direction}")])
            i = keys.index(field_key)
            j = max(0, i - 1) if direction == "up" else min(len(keys) - 1, i + 1)
            fields = list(self._entity(key).fields)
            fields[i], fields[j] = fields[j], fields[i]
            return platform().metadata.update_definition("entity", key, {"fields": fields}, actor=actor(), **apply)

        return self._simple(change, url_for(".detail", key=key), t("t_move_field", field=_field_name(key, field_key)), entity=key)

    # ---- field-level changes ---------------------------------------------------------------------
    @expose("/<key>/fields/new", methods=("GET", "POST"))
    def add_field(self, key):
        self._entity(key)
        type_name = request.values.get("type", "text")
        if type_name not in REGISTRY:
            abort(404)
        state = self._state()
        form_class = field_form_class(type_name, state, key, choice_rows=max(posted_rows("choices"), SPARE_ROWS))
        form = form_class(request.form if request.method == "POST" else None)

        def render_form(errors=(), plan=None):
            attach_errors(form, list(errors), locate_field_error)
            return self.render("crm_admin/field_form.html", form=form, errors=list(errors), plan=plan, key=key,
                               type_name=type_name, ftype=REGISTRY[type_name], type_title=type_title(type_name),
                               creating=True, entity_name=_entity_name(key))

        if request.method == "GET" or going_back():
            return render_form()
        if not form.validate():  # an option that is not a number, a label too long
            return render_form(), 422
        try:
            doc = field_doc(form, type_name)
        except CrmError as exc:  # a default value the field's type cannot read
            return render_form(exc.errors), exc.status
        if not doc["key"]:
            # Made from the label as the page's script proposes it (Chinese as pinyin), unique in the entity.
            entity = self._entity(key)
            label = label_from(form.data, "label") or {}
            doc["key"] = propose_key(label.get("zh") or label.get("en") or "",
                                     {f["key"] for f in list(entity.fields) + list(entity.archived_fields)})
            form.key.data = doc["key"]

        def change(**apply):
            return platform().metadata.add_field(key, doc, actor=actor(), **apply)

        return run_change(self, change, render_form=render_form, done_url=url_for(".detail", key=key),
                          title=t("t_add_field", field=_name(doc), entity=_entity_name(key)), entity=key, doc=doc)

    @expose("/<key>/fields/<field>/edit", methods=("GET", "POST"))
    def edit_field(self, key, field):
        entity = self._entity(key)
        current = next((f for f in entity.fields if f["key"] == field), None)
        if current is None:
            abort(404)
        type_name = request.form.get("type") or request.args.get("type") or current["type"]
        safe = [current["type"]] + sorted(REGISTRY[current["type"]].converts_to)
        if type_name not in safe:
            type_name = current["type"]
        form_class = field_form_class(type_name, self._state(), key, type_choices=safe,
                                      choice_rows=max(posted_rows("choices"), len(current.get("choices", [])) + SPARE_ROWS))
        if request.method == "POST":
            form = form_class(request.form)
        else:
            form = form_class(data={**field_data(current), "type": type_name})
        form.key.render_kw = {"readonly": True}

        def render_form(errors=(), plan=None):
            attach_errors(form, list(errors), locate_field_error)
            return self.render("crm_admin/field_form.html", form=form, errors=list(errors), plan=plan, key=key, field=field,
                               type_name=type_name, ftype=REGISTRY[type_name], type_title=type_title(type_name),
                               creating=False, entity_name=_entity_name(key), field_name=_field_name(key, field))

        if request.method == "GET" or going_back() or request.form.get("_retype"):
            return render_form()
        if not form.validate():  # an option that is not a number, a label too long
            return render_form(), 422
        try:
            doc = field_doc(form, type_name)
        except CrmError as exc:  # a default value the field's type cannot read
            return render_form(exc.errors), exc.status
        doc["key"] = field
        # Options left blank go back to the type's default: send them as null so the merge drops them.
        patch = {**{k: None for k in current if k not in ("key", "type")}, **doc}

        def change(**apply):
            return platform().metadata.update_field(key, field, patch, actor=actor(), **apply)

        return run_change(self, change, render_form=render_form, done_url=url_for(".detail", key=key),
                          title=t("t_change_field", field=_field_name(key, field), entity=_entity_name(key)),
                          entity=key, doc=doc)

    @expose("/<key>/fields/<field>/rename", methods=("GET", "POST"))
    def rename_field(self, key, field):
        self._entity(key)
        form = RenameForm(request.form if request.method == "POST" else None)

        def render_form(errors=(), plan=None):
            attach_errors(form, list(errors))
            return self.render("crm_admin/rename_form.html", form=form, errors=list(errors), plan=plan, key=key, field=field,
                               entity_name=_entity_name(key), field_name=_field_name(key, field))

        if request.method == "GET" or going_back():
            return render_form()
        new_key = (form.new_key.data or "").strip()

        def change(**apply):
            return platform().metadata.rename_field(key, field, new_key, actor=actor(), **apply)

        return run_change(self, change, render_form=render_form, done_url=url_for(".detail", key=key),
                          title=t("t_rename_field", field=_field_name(key, field), entity=_entity_name(key), new=new_key),
                          entity=key)

    @expose("/<key>/fields/<field>/archive", methods=("POST",))
    def archive_field(self, key, field):
        return self._simple(lambda **apply: platform().metadata.archive_field(key, field, actor=actor(), **apply),
                            url_for(".detail", key=key),
                            t("t_archive_field", field=_field_name(key, field), entity=_entity_name(key)), entity=key)

    @expose("/<key>/fields/<field>/restore", methods=("POST",))
    def restore_field(self, key, field):
        return self._simple(lambda **apply: platform().metadata.restore_field(key, field, actor=actor(), **apply),
                            url_for(".detail", key=key),
                            t("t_restore_field", field=_field_name(key, field), entity=_entity_name(key)), entity=key)

    def _simple(self, change, done_url: str, title: str, entity: str | None = None):
        """A change with no form of its own: refusals are shown on the plan page itself."""
        def render_refusal(errors=(), plan=None):
            return self.render("crm_admin/plan.html", plan=plan, errors=list(errors), title=title, fields=[],
                               action=None, cancel_url=done_url)

        return run_change(self, change, render_form=render_refusal, done_url=done_url, title=title, entity=entity)

    @expose("/propose-key", methods=("GET",))
    def propose(self):
        """The key proposed for a label: ``?label=意向等级&entity=student`` → ``{"key": "yi_xiang_deng_ji"}``,
        unique among the entity's fields (archived ones too); without ``entity``, an entity key."""
        from flask import jsonify
        label = request.args.get("label", "")[:200]
        entity_key = request.args.get("entity")
        state = self._state()
        if entity_key:
            found = state.entities.get(entity_key)
            if found is None:
                abort(404)
            taken = {f["key"] for f in list(found.fields) + list(found.archived_fields)}
            return jsonify({"key": propose_key(label, taken)})
        return jsonify({"key": propose_key(label, set(state.entities), entity=True)})


def _name(doc: dict) -> str:
    """A definition being saved, by its label in the admin's language (its key when it has none)."""
    from .i18n import language
    return label_text(doc.get("label"), language()) or doc.get("key") or ""


def _entity_name(key: str) -> str:
    found = platform().metadata.state().entities.get(key)
    return _name(found.doc) if found is not None else key


def _field_name(entity: str, field: str) -> str:
    found = platform().metadata.state().entities.get(entity)
    for f in (list(found.fields) + list(found.archived_fields)) if found is not None else []:
        if f["key"] == field:
            return _name(f)
    return field


def _locate_entity_error(path: str) -> str | None:
    parts = path.split(".")
    if parts[0] in ("label", "plural_label") and len(parts) == 2:
        return f"{parts[0]}_{parts[1]}"
    return parts[0] or None


def _option_summary(field: dict) -> str:
    """A short, readable line of a field's own options (choices, scale, target...)."""
    from .i18n import MESSAGES, language
    lang, bits = language(), []
    if field.get("choices"):
        bits.append(("、" if lang == "zh" else ", ").join(label_text(c.get("label"), lang) or c["key"]
                                                         for c in field["choices"][:6])
                    + ("…" if len(field["choices"]) > 6 else ""))
    for option in ("max_length", "min", "max", "scale", "target", "on_delete", "taxonomy"):
        value = field.get(option)
        if value is not None:
            name = t(f"opt_{option}") if f"opt_{option}" in MESSAGES else t("f_target") if option == "target" \
                else t("f_taxonomy") if option == "taxonomy" else option
            if option == "on_delete" and f"opt_{value}" in MESSAGES:
                value = t(f"opt_{value}")
            bits.append(f"{name}: {value}")
    if field.get("multiple"):
        bits.append(t("opt_multiple"))
    return "; ".join(bits)


def _record_counts(keys: list[str]) -> dict[str, int]:
    """Live records per entity for the entity list, counted by the record service (capped like lists)."""
    records = platform().records
    return {key: records.list(key, ListQuery(per_page=1), access=access())["total"] for key in keys}
