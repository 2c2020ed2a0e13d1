"""Exporting the instance's configuration (and, on request, its records) as one bundle."""
from __future__ import annotations

import copy

from ..errors import NotFound, error
from ..metadata.store import load_state
from . import sample
from .format import FORMAT, FORMAT_VERSION, check, kinds, seal


def _selected(only: list[str] | None, kind: str, key: str) -> bool:
    return only is None or key in only or f"{kind}:{key}" in only


def export(platform, *, name: str = "export", version: str = "1.0.0", description=None, label=None,
           only: list[str] | None = None, sample_data: bool = False) -> dict:
    """The bundle of every active definition (or only those named: ``key`` or ``kind:key``)."""
    with platform.engine.connect() as conn:
        state = load_state(conn)
        definitions: dict[str, list[dict]] = {}
        found: set[str] = set()
        for kind in kinds():
            for key, entry in sorted(state.of_kind(kind).items()):
                if entry.archived or not _selected(only, kind, key):
                    continue
                doc = copy.deepcopy(entry.doc)
                doc.pop("archived_fields", None)  # local history: columns kept here, not configuration
                definitions.setdefault(kind, []).append(doc)
                found.update({key, f"{kind}:{key}"})
        missing = [k for k in (only or []) if k not in found]
        if missing:
            raise NotFound([error("only", "not_found", f"no active definition '{k}'") for k in missing])
        bundle = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "version": version,
                  "definitions": definitions}
        if description is not None:
            bundle["description"] = description
        if label is not None:
            bundle["label"] = label
        if sample_data:
            records = sample.export(platform.records, conn, [d["key"] for d in definitions.get("entity", [])])
            if records:
                bundle["sample_data"] = records
    # Checked like any bundle it might be imported as: a bad name or version is refused here.
    return check(seal(bundle))
