"""Three-way merge of one definition: what the bundle installed last time (base), what the instance
has now (local), and what the bundle brings (incoming).

A side that did not change keeps the other side's change: an admin's added field survives an
upgrade, and the upgrade's new field arrives. Both sides changing the same thing differently is a
conflict, reported with the three versions; ``resolve`` (keep-local / take-incoming) settles it,
otherwise the local value stays and the conflict blocks the import. Lists of items with a ``key``
(fields, tags, stages, ...) merge item by item; everything else merges attribute by attribute.
Without a base (the instance has a definition of the same key that this bundle never installed),
either side's additions are kept and any difference is a conflict.
"""
from __future__ import annotations

MISSING = object()
KEEP_LOCAL, TAKE_INCOMING = "keep-local", "take-incoming"


def _keyed(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and isinstance(v.get("key"), str)
                                                          for v in value)


def _public(value):
    return None if value is MISSING else value


class Merge:
    def __init__(self, resolve):
        #: keep-local, take-incoming, None (unresolved), or a function of the conflict's path giving one
        #: of those (conflicts settled one by one, as the admin's plan page does)
        self._resolve = resolve if callable(resolve) else (lambda path: resolve)
        self.conflicts: list[dict] = []
        #: paths where the result keeps this instance's own change / takes the bundle's change
        self.kept_here: list[str] = []
        self.from_bundle: list[str] = []

    def _note(self, path: str, base, local, incoming, *, has_base: bool) -> None:
        if local == incoming:
            return
        if has_base:
            if local != base and incoming == base:
                self.kept_here.append(path)
            elif local == base:
                self.from_bundle.append(path)
        elif local is MISSING:
            self.from_bundle.append(path)
        elif incoming is MISSING:
            self.kept_here.append(path)

    def pick(self, path: str, base, local, incoming, *, has_base: bool):
        self._note(path, base, local, incoming, has_base=has_base)
        if local == incoming:
            return local
        if has_base:
            if local == base:
                return incoming
            if incoming == base:
                return local
        elif local is MISSING or incoming is MISSING:
            return incoming if local is MISSING else local  # an addition on one side only
        conflict = {"path": path, "local": _public(local), "incoming": _public(incoming)}
        if has_base:
            conflict["installed"] = _public(base)
        resolve = self._resolve(path)
        conflict["resolution"] = resolve or "unresolved"
        self.conflicts.append(conflict)
        return incoming if resolve == TAKE_INCOMING else local

    def items(self, path: str, base, local, incoming, *, has_base: bool, archived: set[str]):
        if local == incoming:
            return local
        by = [{v["key"]: v for v in (side if isinstance(side, list) else [])} for side in (base, local, incoming)]
        b, lo, inc = by
        if has_base and (local == base or incoming == base):  # one side did not touch the list
            for key in list(inc) + [k for k in {**b, **lo} if k not in inc]:
                self._note(f"{path}.{key}", b.get(key, MISSING), lo.get(key, MISSING), inc.get(key, MISSING),
                           has_base=True)
            if local == base:
                return incoming
            return local
        order = list(inc) + [k for k in lo if k not in inc]
        out = []
        for key in order:
            base_item = b.get(key, MISSING) if has_base else MISSING
            local_item, incoming_item = lo.get(key, MISSING), inc.get(key, MISSING)
            if local_item is MISSING and key in archived and incoming_item is not MISSING:
                if has_base and incoming_item == base_item:
                    continue  # archived here, unchanged in the bundle: it stays archived
                resolve = self._resolve(f"{path}.{key}")
                self.conflicts.append({"path": f"{path}.{key}", "local": None, "incoming": incoming_item,
                                       "note": "archived in this instance; taking the bundle's version restores it",
                                       "resolution": resolve or "unresolved",
                                       **({"installed": _public(base_item)} if has_base else {})})
                if resolve == TAKE_INCOMING:
                    out.append(incoming_item)
                continue
            value = self.pick(f"{path}.{key}", base_item, local_item, incoming_item, has_base=has_base)
            if value is not MISSING:
                out.append(value)
        return out

    def document(self, base: dict | None, local: dict, incoming: dict, archived: dict[str, set[str]],
                 path: str = "") -> dict:
        has_base = base is not None
        base = base or {}
        attrs = list(incoming) + [k for k in local if k not in incoming] + [k for k in base if k not in incoming
                                                                            and k not in local]
        out = {}
        for attr in attrs:
            b, lo, inc = base.get(attr, MISSING), local.get(attr, MISSING), incoming.get(attr, MISSING)
            sides = [v for v in (b, lo, inc) if v is not MISSING]
            if any(_keyed(v) for v in sides) and all(isinstance(v, list) for v in sides):
                value = self.items(path + attr, b, lo, inc, has_base=has_base, archived=archived.get(attr, set()))
            elif lo is not MISSING and inc is not MISSING and all(isinstance(v, dict) for v in sides) and lo != inc:
                # Objects (a role's entities, a label's languages) merge key by key as well.
                value = self.document((b if b is not MISSING else {}) if has_base else None, lo, inc, {},
                                      path=f"{path}{attr}.")
            else:
                value = self.pick(path + attr, b, lo, inc, has_base=has_base)
            if value is not MISSING:
                out[attr] = value
        return out


def merge(base: dict | None, local: dict, incoming: dict, *, resolve=None,
          archived: dict[str, set[str]] | None = None) -> tuple[dict, list[dict], dict[str, list[str]]]:
    """(merged definition, conflicts, notes). ``resolve``: one choice for every conflict, or a function
    of a conflict's path (``fields.city``) giving its own. ``archived``: keys of list items archived locally, by list name.

    ``notes``: ``kept_here`` lists the paths where this instance's own change is kept, ``from_bundle``
    those where the bundle's change is taken (conflicts are listed apart).
    """
    m = Merge(resolve)
    merged = m.document(base, local, incoming, archived or {})
    return merged, m.conflicts, {"kept_here": m.kept_here, "from_bundle": m.from_bundle}
