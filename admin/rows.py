"""Helpers for designer forms made of rows (choices, tags, conditions, stages)."""
from __future__ import annotations

from flask import request

from crm_platform.metadata.field_types import REGISTRY


def posted_rows(name: str) -> int:
    """How many rows of the list input ``name`` were posted, so a re-shown form keeps every row."""
    prefix = f"{name}-"
    indexes = set()
    for k in request.form:
        if k.startswith(prefix):
            head = k[len(prefix):].split("-", 1)[0]
            if head.isdigit():
                indexes.add(int(head))
    return max(indexes) + 1 if indexes else 0


def blank(row: dict, *names: str) -> bool:
    """A row whose ``names`` inputs are all empty (the spare rows offered for adding)."""
    return not any(str(row.get(n) or "").strip() for n in names)


def split_list(text: str | None) -> list[str]:
    """"a, b；c" → ["a", "b", "c"] (commas of either width, semicolons)."""
    parts = (text or "").replace("，", ",").replace(";", ",").replace("；", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def keyed_locator(list_name: str, keys: list[str], sub: dict[str, str] | None = None):
    """Map an error path of the definition (``tags.vip.parent``) to a form input (``tags-2-parent``).

    ``keys`` are the row keys in form order; ``sub`` renames nested paths (``rule.all`` → ``conditions``).
    """
    def locate(path: str) -> str | None:
        parts = path.split(".")
        if len(parts) >= 3 and parts[0] == list_name and parts[1] in keys:
            rest = ".".join(parts[2:])
            for old, new in (sub or {}).items():
                if rest.startswith(old):
                    rest = new + rest[len(old):]
            if rest in ("label.en", "label.zh"):
                rest = rest.replace(".", "_")
            return f"{list_name}-{keys.index(parts[1])}-" + rest.replace(".", "-")
        if len(parts) == 2 and parts[0] == "label":
            return f"label_{parts[1]}"
        return parts[0] if len(parts) == 1 else None
    return locate


def typed_value(field: dict | None, text: str):
    """A value typed into a rule or condition, as the JSON value of ``field`` ("30" → 30, a date stays
    ISO text); text that does not parse is kept, and the definition's validator says what is wrong."""
    if field is None:
        return text
    ftype = REGISTRY[field["type"]]
    if ftype.control_of(field) in ("choice", "choices"):
        return text  # a choice, tag or stage key
    try:
        return ftype.to_json(ftype.parse_compared(field, text))
    except Exception:  # noqa: BLE001 - see the docstring
        return text
