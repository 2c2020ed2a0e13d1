"""Plans and revisions as sentences a business owner reads, in English or Chinese.

A plan is data (``plan.py``: operations such as ``add_column`` with the rows they touch); a person
reads "adds the field 意向等级 to 学员; 1,204 existing records get the default 中". One describer for
every place that shows a change — the admin's plan page, its history, the API later — so the same
operation always reads the same way. It names entities, fields, stages and tags by their labels in
the reader's language, taken from the definitions before and after the change (and the current
configuration for anything else), and falls back to the key where a definition has no label.
"""
from __future__ import annotations

import re

from ..i18n import text_of
from .field_types import REGISTRY

WORDS = {
    "create_table": {"en": "creates the entity {entity} with {n} fields",
                     "zh": "新建实体「{entity}」，含 {n} 个字段"},
    "archive_entity": {"en": "archives the entity {entity}; its {rows} records are kept and can be restored",
                       "zh": "归档实体「{entity}」；其 {rows} 条记录都会保留，可随时恢复"},
    "restore_entity": {"en": "restores the entity {entity} with its {rows} records",
                       "zh": "恢复实体「{entity}」及其 {rows} 条记录"},
    "rename_column": {"en": "changes the key of the field {field} of {entity} from {old} to {new}; the values of "
                            "its {rows} records are kept",
                      "zh": "把「{entity}」的字段「{field}」的标识从 {old} 改为 {new}；{rows} 条记录的数据都保留"},
    "restore_column": {"en": "restores the field {field} of {entity} with the values stored in its {rows} records",
                       "zh": "恢复「{entity}」的字段「{field}」，{rows} 条记录中保存的数据随之恢复"},
    "add_column_backfill": {"en": "adds the field {field} ({type}) to {entity}; {rows} existing records get the "
                                  "default {default}",
                            "zh": "为「{entity}」添加字段「{field}」（{type}）；现有的 {rows} 条记录取默认值「{default}」"},
    "add_column_default": {"en": "adds the field {field} ({type}) to {entity}; existing records leave it empty, new "
                                 "ones get the default {default}",
                           "zh": "为「{entity}」添加字段「{field}」（{type}）；现有记录此项留空，新记录取默认值「{default}」"},
    "add_column": {"en": "adds the field {field} ({type}) to {entity}; existing records leave it empty",
                   "zh": "为「{entity}」添加字段「{field}」（{type}）；现有记录此项留空"},
    "convert_column": {"en": "changes the type of the field {field} of {entity} from {old} to {new}; its {rows} "
                             "records are converted",
                       "zh": "把「{entity}」的字段「{field}」的类型从{old}改为{new}；{rows} 条记录随之转换"},
    "recompute_column": {"en": "computes the field {field} ({type}) of {entity} for its {rows} records",
                         "zh": "为「{entity}」的 {rows} 条记录计算字段「{field}」（{type}）"},
    "check_rows": {"en": "changes the rules of the field {field} of {entity}; existing records are checked against them",
                   "zh": "修改「{entity}」的字段「{field}」的规则；现有记录已按新规则检查"},
    "reindex_create": {"en": "adds an index on the field {field} of {entity} (faster filters and sorting)",
                       "zh": "为「{entity}」的字段「{field}」建立索引（筛选和排序更快）"},
    "reindex_drop": {"en": "removes the index on the field {field} of {entity}",
                     "zh": "删除「{entity}」的字段「{field}」上的索引"},
    "relabel": {"en": "renames the field {old} of {entity} to {field}", "zh": "把「{entity}」的字段「{old}」改名为「{field}」"},
    "update_field": {"en": "changes the settings of the field {field} of {entity}", "zh": "修改「{entity}」的字段「{field}」的设置"},
    "archive_column": {"en": "archives the field {field} of {entity}; its values in {rows} records are kept and can "
                             "be restored",
                       "zh": "归档「{entity}」的字段「{field}」；{rows} 条记录中的数据都保留，可随时恢复"},
    "update_entity": {"en": "changes {what} of the entity {entity}", "zh": "修改实体「{entity}」的{what}"},
    "reorder_fields": {"en": "changes the order of the fields of {entity}", "zh": "调整「{entity}」的字段顺序"},
    "archive_stage": {"en": "archives the stage {stage} of {entity} (no records are in it)",
                      "zh": "归档「{entity}」的阶段「{stage}」（没有记录处于此阶段）"},
    "move_stage_records": {"en": "archives the stage {stage} of {entity} and moves its {rows} records to {target} "
                                 "(kept in their stage history)",
                           "zh": "归档「{entity}」的阶段「{stage}」，其中 {rows} 条记录移到「{target}」（记入阶段记录）"},
    "rules_changed": {"en": "the rules of the tags {tags} changed: run crm tags refresh to apply them to existing records",
                      "zh": "标签「{tags}」的规则已修改：运行 crm tags refresh 后对现有记录生效"},
    "create_def": {"en": "creates the {kind} {name}", "zh": "新建{kind}「{name}」"},
    "update_def": {"en": "changes the {kind} {name}", "zh": "修改{kind}「{name}」"},
    "archive_def": {"en": "archives the {kind} {name}", "zh": "归档{kind}「{name}」"},
    "restore_def": {"en": "restores the {kind} {name}", "zh": "恢复{kind}「{name}」"},
    "item_added": {"en": "adds the {item} {name}", "zh": "添加{item}「{name}」"},
    "item_removed": {"en": "removes the {item} {name}", "zh": "移除{item}「{name}」"},
    "item_archived": {"en": "archives the {item} {name}", "zh": "归档{item}「{name}」"},
    "item_changed": {"en": "changes the {item} {name}", "zh": "修改{item}「{name}」"},
    "items_reordered": {"en": "changes the order of the {item}s", "zh": "调整{item}的顺序"},
    "no_change": {"en": "nothing changes", "zh": "没有任何变化"},
    "empty": {"en": "empty", "zh": "空"},
}

#: Names of definition kinds and of their parts.
NOUNS = {
    "entity": {"en": "entity", "zh": "实体"}, "taxonomy": {"en": "taxonomy", "zh": "标签体系"},
    "pipeline": {"en": "pipeline", "zh": "阶段流程"}, "form": {"en": "form", "zh": "表单"},
    "role": {"en": "role", "zh": "角色"}, "field": {"en": "field", "zh": "字段"},
    "tag": {"en": "tag", "zh": "标签"}, "stage": {"en": "stage", "zh": "阶段"},
    "section": {"en": "section", "zh": "分区"}, "condition": {"en": "condition", "zh": "条件"},
    "automation": {"en": "automation rule", "zh": "自动化规则"},
}

#: Entity settings as ``update_entity`` names them.
ENTITY_SETTINGS = {
    "label": {"en": "the name", "zh": "名称"}, "plural_label": {"en": "the plural name", "zh": "复数名称"},
    "description": {"en": "the description", "zh": "说明"}, "title_field": {"en": "the title field", "zh": "标题字段"},
    "require_change_reason": {"en": "whether changes need a reason", "zh": "修改是否须填原因"},
    "list_columns": {"en": "the default list columns", "zh": "列表默认列"},
}

#: The lists of a definition whose items are matched by key in a diff.
ITEMS = {"fields": "field", "tags": "tag", "stages": "stage", "layout": "section", "conditions": "condition"}


def words(key: str, lang: str, **values) -> str:
    entry = WORDS[key]
    return (entry.get(lang) or entry["en"]).format(**values)


def noun(key: str, lang: str) -> str:
    return text_of(NOUNS.get(key, {"en": key}), lang)


class Names:
    """Labels of definitions in one language: first from the change's own before/after documents
    (a field being added has no other home yet), then from the current configuration."""

    def __init__(self, lang: str, state=None, before: dict | None = None, after: dict | None = None,
                 kind: str = "entity"):
        self.lang, self.state, self.kind = lang, state, kind
        self.docs = [d for d in (after, before) if d]

    def _entity_docs(self, key: str) -> list[dict]:
        """The documents of entity ``key``: the change's own first, then the current configuration's."""
        docs = [d for d in self.docs if self.kind == "entity" and d.get("key") == key]
        found = self.state.entities.get(key) if self.state is not None else None
        return docs + ([found.doc, {"fields": list(found.fields), "archived_fields": list(found.archived_fields)}]
                       if found is not None else [])

    def entity(self, key: str) -> str:
        for doc in self._entity_docs(key):
            if doc.get("label"):
                return text_of(doc["label"], self.lang) or key
        return key

    def field_doc(self, entity: str, key: str) -> dict | None:
        for source in self._entity_docs(entity):
            for f in (source.get("fields") or []) + (source.get("archived_fields") or []):
                if f.get("key") == key:
                    return f
        return None

    def field(self, entity: str, key: str | None) -> str:
        if key is None:
            return ""
        f = self.field_doc(entity, key)
        return (text_of(f.get("label"), self.lang) or key) if f else key

    def type_name(self, type_key: str) -> str:
        ftype = REGISTRY.get(type_key)
        return text_of(ftype.title, self.lang) if ftype is not None and ftype.title else type_key

    def stage(self, key: str) -> str:
        for d in self.docs:
            for s in d.get("stages") or []:
                if s.get("key") == key:
                    return text_of(s.get("label"), self.lang) or key
        return key

    def definition(self, kind: str, key: str) -> str:
        for d in self.docs:
            if d.get("key") == key:
                return text_of(d.get("label"), self.lang) or key
        found = self.state.of_kind(kind).get(key) if self.state is not None else None
        return (text_of(found.doc.get("label"), self.lang) or key) if found is not None else key


def number(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n if n is not None else 0)


def describe_plan(plan: dict, lang: str, *, state=None, before: dict | None = None,
                  after: dict | None = None) -> list[str]:
    """One sentence per operation of ``plan`` (as ``Plan.public()`` gives it, or as a revision keeps
    it); ``before``/``after`` are the definition's documents around the change, when known."""
    kind = plan.get("kind", "entity")
    names = Names(lang, state, before, after, kind)
    out = []
    for op in plan.get("operations") or []:
        out += _describe_operation(op, names, kind, before, after)
    return out or [words("no_change", lang)]


def _describe_operation(op: dict, names: Names, kind: str, before, after) -> list[str]:
    lang, name, entity = names.lang, op.get("op", ""), op.get("entity", "")
    rows = number(op.get("rows"))
    ent = names.entity(entity)
    fld = names.field(entity, op.get("field"))
    if name == "create_table":
        return [words("create_table", lang, entity=ent, n=len((after or {}).get("fields") or []))]
    if name in ("archive_entity", "restore_entity", "restore_column", "archive_column", "reorder_fields", "check_rows"):
        return [words(name, lang, entity=ent, field=fld, rows=rows)]
    if name == "rename_column":
        old = _match(r"rename column (\S+) to", op.get("detail", "")) or ""
        return [words(name, lang, entity=ent, field=fld, old=old, new=op.get("field"), rows=rows)]
    if name == "add_column":
        f = names.field_doc(entity, op.get("field")) or {}
        type_ = names.type_name(f.get("type", ""))
        default = _value_text(f, names) if f.get("default") is not None else None
        if op.get("rows"):
            return [words("add_column_backfill", lang, entity=ent, field=fld, type=type_, rows=rows, default=default)]
        if default is not None:
            return [words("add_column_default", lang, entity=ent, field=fld, type=type_, default=default)]
        return [words("add_column", lang, entity=ent, field=fld, type=type_)]
    if name == "recompute_column":
        f = names.field_doc(entity, op.get("field")) or {}
        return [words(name, lang, entity=ent, field=fld, type=names.type_name(f.get("type", "")), rows=rows)]
    if name == "convert_column":
        m = re.search(r"from (\S+) to (\S+),", op.get("detail", ""))
        old, new = (names.type_name(m.group(1)), names.type_name(m.group(2))) if m else ("", "")
        return [words(name, lang, entity=ent, field=fld, old=old, new=new, rows=rows)]
    if name == "reindex":
        which = "reindex_create" if op.get("detail", "").startswith("create") else "reindex_drop"
        return [words(which, lang, entity=ent, field=fld)]
    if name == "relabel":
        old = _old_field_label(before, op.get("field"), lang)
        if old is None or old == fld:
            return [words("update_field", lang, entity=ent, field=fld)]
        return [words("relabel", lang, entity=ent, field=fld, old=old)]
    if name == "update_entity":
        changed = [k for k in ENTITY_SETTINGS if (before or {}).get(k) != (after or {}).get(k)]
        what = ("、" if lang == "zh" else ", ").join(text_of(ENTITY_SETTINGS[k], lang) for k in changed) \
            or text_of(ENTITY_SETTINGS["label"], lang)
        return [words(name, lang, entity=ent, what=what)]
    if name in ("archive_stage", "move_stage_records"):
        stage = _match(r"archive stage (\S+?)[: ]", op.get("detail", "") + " ")
        target = _match(r"records to (\S+) ", op.get("detail", "") + " ")
        return [words(name, lang, entity=ent, stage=names.stage(stage or ""), rows=rows,
                      target=names.stage(target or ""))]
    if name == "rules_changed":
        keys = _match(r"rules of (.+) changed", op.get("detail", "")) or ""
        tags = [_item_label(after, "tags", k.strip(), lang) for k in keys.split(",") if k.strip()]
        return [words(name, lang, tags=("、" if lang == "zh" else ", ").join(tags))]
    verb, _, def_kind = name.partition("_")
    if verb in ("create", "update", "archive", "restore") and def_kind:
        title = names.definition(def_kind, entity)
        out = [words(f"{verb}_def", lang, kind=noun(def_kind, lang), name=title)]
        if verb == "update":
            out += describe_items(before, after, lang)
        return out
    return [op.get("detail") or name]


def describe_items(before: dict | None, after: dict | None, lang: str) -> list[str]:
    """The items of a definition's lists (tags, stages, sections...) added, removed, archived or changed."""
    out = []
    for attr, item in ITEMS.items():
        old = {i["key"]: i for i in (before or {}).get(attr) or [] if isinstance(i, dict) and "key" in i}
        new = {i["key"]: i for i in (after or {}).get(attr) or [] if isinstance(i, dict) and "key" in i}
        thing = noun(item, lang)
        for k, i in new.items():
            title = text_of(i.get("label") or i.get("title"), lang) or k
            if k not in old:
                out.append(words("item_added", lang, item=thing, name=title))
            elif i != old[k]:
                archived = i.get("archived") and not old[k].get("archived")
                out.append(words("item_archived" if archived else "item_changed", lang, item=thing, name=title))
        for k, i in old.items():
            if k not in new:
                out.append(words("item_removed", lang, item=thing, name=text_of(i.get("label") or i.get("title"), lang) or k))
        if [k for k in old if k in new] != [k for k in new if k in old]:
            out.append(words("items_reordered", lang, item=thing))
    return out


def describe_revision(revision: dict, lang: str, *, state=None) -> list[str]:
    """A stored revision (``MetadataService.revisions``) as sentences: its plan, with the labels of
    the definitions as they were at that revision."""
    return describe_plan(revision.get("plan") or {}, lang, state=state, before=revision.get("before"),
                         after=revision.get("after"))


def _match(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def _value_text(field: dict, names: Names) -> str:
    """A default as the admin typed it: a choice by its label, anything else as the type formats it."""
    value = field.get("default")
    for c in field.get("choices") or []:
        if c.get("key") == value:
            return text_of(c.get("label"), names.lang) or str(value)
    try:
        return REGISTRY[field["type"]].format_text(field, value)
    except Exception:  # noqa: BLE001 - a default the type cannot format still reads as itself
        return str(value)


def _old_field_label(before: dict | None, key: str | None, lang: str) -> str | None:
    for f in (before or {}).get("fields") or []:
        if f.get("key") == key:
            return text_of(f.get("label"), lang) or key
    return None


def _item_label(doc: dict | None, attr: str, key: str, lang: str) -> str:
    for i in (doc or {}).get(attr) or []:
        if i.get("key") == key:
            return text_of(i.get("label"), lang) or key
    return key
