"""A readable diff of two definitions: one line per changed value, lists matched by their keys.

``fields.price.scale: 2 → 3`` reads better than two JSON documents side by side; fields, choices,
tags and stages are matched by ``key`` so reordering or inserting one does not mark the rest changed.
"""
from __future__ import annotations

import json

MAX_VALUE = 160


def _show(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def _keyed(items) -> dict | None:
    """A list of objects with unique ``key``s as a dict by key; None for any other list."""
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("key"), str) for i in items):
        return None
    keys = [i["key"] for i in items]
    return {i["key"]: i for i in items} if len(set(keys)) == len(keys) else None


def diff_lines(before, after, path: str = "") -> list[tuple[str, str]]:
    """(sign, text) pairs: "+" added, "-" removed, "~" changed, "↕" reordered."""
    if before == after:
        return []
    # A definition created or dropped as a whole still reads part by part (each field on its line).
    if before is None and isinstance(after, (dict, list)) and path.count(".") < 1:
        before = {} if isinstance(after, dict) else []
    if after is None and isinstance(before, (dict, list)) and path.count(".") < 1:
        after = {} if isinstance(before, dict) else []
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for k in list(before) + [k for k in after if k not in before]:
            out += diff_lines(before.get(k), after.get(k), f"{path}.{k}" if path else str(k))
        return out
    old, new = _keyed(before), _keyed(after)
    if old is not None and new is not None:
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            out += diff_lines(old.get(k), new.get(k), f"{path}.{k}")
        common_old = [k for k in old if k in new]
        common_new = [k for k in new if k in old]
        if common_old != common_new:
            out.append(("↕", f"{path}: order {', '.join(common_old)} → {', '.join(common_new)}"))
        return out
    if before is None:
        return [("+", f"{path}: {_show(after)}")]
    if after is None:
        return [("-", f"{path}: {_show(before)}")]
    return [("~", f"{path}: {_show(before)} → {_show(after)}")]
