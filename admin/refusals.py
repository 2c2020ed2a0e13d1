"""The metadata service's refusals as the admin reads them: in her language, naming fields, stages
and tags by their labels.

The service speaks keys and English (``fields.yi_xiang_deng_ji.required``: "12 existing records
would have no value for required field 'yi_xiang_deng_ji'…") because programs read it. On the
designer's pages each refusal is rewritten once, by its ``code`` and the path in ``field``, the way
``web/messages.py`` does for record errors; the original stays in ``detail`` for consultants.
"""
from __future__ import annotations

import re

from crm_platform.i18n import humanise, text_of

#: code → message; ``{name}`` is the label of what the path names, ``{rows}`` the records concerned.
#: Rules of form (a pattern, a type, a length) have no English entry: the service's English says
#: exactly what is wrong, and gains the label of what it concerns in front.
REFUSALS = {
    "required": {"en": "{name}: {rows} existing records would have no value: give the field a default, or add it as "
                       "optional and fill it in first",
                 "zh": "「{name}」：现有 {rows} 条记录将没有值。请设置默认值，或先作为选填字段添加并补全数据"},
    "existing_rows_required": {"en": "{name}: {rows} existing records have no value; fill them in first or keep the "
                                     "field optional",
                               "zh": "「{name}」：现有 {rows} 条记录没有填写此项；请先补全，或保持选填"},
    "existing_rows": {"en": "{name}: {rows} existing records break the new rule; fix them first",
                      "zh": "「{name}」：现有 {rows} 条记录不符合新规则，请先修改这些记录"},
    "conversion": {"en": "{name}: the values cannot change to this type without loss",
                   "zh": "「{name}」：数据无法在不丢失的情况下转换为此类型；可新增一个字段并归档此字段"},
    "unique": {"en": "{name}: {rows} records share a value with another record",
               "zh": "「{name}」：有 {rows} 条记录的值与其他记录重复"},
    "key": {"zh": "「{name}」：标识只能使用小写字母、数字和下划线，须以字母开头，且不能是系统保留字"},
    "exists": {"en": "{name}: {quoted} is taken already; choose another", "zh": "「{name}」：{quoted} 已被使用，请换一个"},
    "referenced": {"en": "{name}: other definitions use it; archive those first",
                   "zh": "「{name}」：仍被其他定义使用，请先归档使用它的字段"},
    "pipeline": {"en": "{name}: a pipeline uses this field; archive the pipeline first",
                 "zh": "「{name}」：此字段被阶段流程使用，请先归档该阶段流程"},
    "role": {"en": "{name}: a role's rights name this field; change the role first",
             "zh": "「{name}」：角色权限中用到了此字段，请先修改该角色"},
    "in_use": {"en": "{name}: {rows} records still use it; move them first",
               "zh": "「{name}」：仍有 {rows} 条记录在使用，请先转移这些记录"},
    "restore": {"en": "{name}: restore the field as it was, then change it", "zh": "「{name}」：请先按原样恢复字段，再修改"},
    "const": {"en": "{name}: cannot change; create another one instead", "zh": "「{name}」：不能修改，请另建一个"},
    "dangling_reference": {"en": "{name}: {rows} records refer to records in the recycle bin; restore those first",
                           "zh": "「{name}」：有 {rows} 条记录引用了回收站中的记录，请先恢复被引用的记录"},
    "cycle": {"zh": "「{name}」：上下级关系形成了循环"},
    "not_found": {"zh": "「{name}」：未找到"},
    "not_archived": {"zh": "「{name}」：未归档，无需恢复"},
    "archived": {"zh": "「{name}」：已归档"},
    "type": {"zh": "「{name}」：格式不正确"},
    "pattern": {"zh": "「{name}」：格式不正确"},
    "format": {"zh": "「{name}」：格式不正确"},
    "maxLength": {"zh": "「{name}」：内容过长"},
    "minItems": {"zh": "「{name}」：至少需要一项"},
    "enum": {"zh": "「{name}」：请从给定的选项中选择"},
    "stale": {"en": "The configuration changed meanwhile: plan again", "zh": "配置已被他人修改，请重新预览"},
}

#: What a path's last part names, when it is a setting rather than a definition.
SETTINGS = {
    "key": {"en": "Key", "zh": "标识"}, "new_key": {"en": "New key", "zh": "新标识"},
    "label": {"en": "Label", "zh": "标签"}, "type": {"en": "Type", "zh": "类型"},
    "required": {"en": "Required", "zh": "必填"}, "unique": {"en": "Unique", "zh": "唯一"},
    "default": {"en": "Default value", "zh": "默认值"}, "choices": {"en": "Choices", "zh": "选项"},
    "title_field": {"en": "Title field", "zh": "标题字段"}, "entity": {"en": "Entity", "zh": "实体"},
    "field": {"en": "Field", "zh": "字段"}, "tags": {"en": "Tags", "zh": "标签"}, "stages": {"en": "Stages", "zh": "阶段"},
    "slug": {"en": "Address", "zh": "访问地址"}, "layout": {"en": "Layout", "zh": "布局"},
}


def localise_refusals(errors, lang: str, *, state=None, entity: str | None = None, doc: dict | None = None) -> list[dict]:
    """Each refusal with ``message`` in ``lang`` naming what it concerns by label, ``label`` the
    name of what it concerns, and ``detail`` the service's own message."""
    out = []
    for e in errors or []:
        e = dict(e)
        name = name_of(e.get("field"), lang, state=state, entity=entity, doc=doc)
        code = e.get("code")
        if code == "existing_rows" and (e.get("field") or "").endswith(".required"):
            code = "existing_rows_required"
        if code == "pattern" and (e.get("field") or "").split(".")[-1] in ("key", "new_key"):
            code = "key"
        template = REFUSALS.get(code, {}).get(lang)
        rows = e.get("rows")
        if rows is None:
            found = re.search(r"\b(\d+)\b", e.get("message") or "")
            rows = int(found.group(1)) if found else ""
        e["label"] = name
        e["detail"] = e.get("message", "")
        if template and not (code == "required" and rows == ""):
            quoted = re.findall(r"'([^']*)'", e.get("message") or "")
            e["message"] = template.format(name=name, rows=f"{rows:,}" if isinstance(rows, int) else rows,
                                           quoted=_taken(quoted, e.get("message") or ""))
        elif name:
            e["message"] = f"「{name}」：{e.get('message', '')}" if lang == "zh" else f"{name}: {e.get('message', '')}"
        out.append(e)
    return out


def _taken(quoted: list[str], message: str) -> str:
    """The key a conflict names: "'x' is taken by…" names it first, "entity 'e' has a field 'x'…" last."""
    if not quoted:
        return ""
    return quoted[0] if message.startswith("'") else quoted[-1]


def name_of(path: str | None, lang: str, *, state=None, entity: str | None = None, doc: dict | None = None) -> str:
    """``fields.yi_xiang_deng_ji.required`` → 意向等级 (必填); ``stages.quote`` → 报价; ``key`` → 标识."""
    if not path:
        return ""
    parts = path.split(".")
    if parts[0] == "fields" and len(parts) >= 2:
        label = _field_label(parts[1], lang, state=state, entity=entity, doc=doc)
        setting = parts[2] if len(parts) >= 3 else None
        if setting and setting != "label":
            named = text_of(SETTINGS[setting], lang) if setting in SETTINGS else humanise(setting)
            return f"{label}（{named}）" if lang == "zh" else f"{label} ({named})"
        return label
    if parts[0] in ("stages", "tags") and len(parts) >= 2 and doc:
        for item in doc.get(parts[0]) or []:
            if str(item.get("key")) == parts[1] or (parts[1].isdigit() and doc[parts[0]].index(item) == int(parts[1])):
                return text_of(item.get("label"), lang) or item.get("key", parts[1])
    if parts[0] in SETTINGS:
        return text_of(SETTINGS[parts[0]], lang)
    return path


def _field_label(key: str, lang: str, *, state=None, entity: str | None = None, doc: dict | None = None) -> str:
    for f in (doc or {}).get("fields") or []:
        if f.get("key") == key:
            return text_of(f.get("label"), lang) or key
    if doc and doc.get("key") == key and "type" in doc:  # the field being added or changed itself
        return text_of(doc.get("label"), lang) or key
    found = state.entities.get(entity) if state is not None and entity else None
    if found is not None:
        for f in list(found.fields) + list(found.archived_fields):
            if f["key"] == key:
                return text_of(f.get("label"), lang) or key
    return key
