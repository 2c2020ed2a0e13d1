"""The import runner: one function the API, the CLI, the page and (later) a job queue call.

    file → sheet (``files``) → columns to fields (``mapping``) → each row's cells converted by its
    field's type (``FieldType.import_value``) → match key → skip / update / create, in batches,
    through the record service (validation, rights, rule tags, pipelines, audit with the reason
    ``import <file name>``).

A refused row never stops the others: each batch is written in savepoints, the rows the record
service names are set aside with its message, and the rest go in again. With ``all_or_nothing``
(and for a dry run) the whole import is one transaction, rolled back when any row is refused (always,
for a dry run), so the counts are exactly what a real run would give. Otherwise each batch commits
on its own, so a long import shows its progress and holds SQLite's write lock only a batch at a time.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field as dc_field
from typing import Callable

import sqlalchemy as sa

from .. import faults
from ..errors import CrmError, Invalid, error
from ..match_keys import text_key
from ..metadata.field_types import REGISTRY
from ..metadata.field_types.base import Invalid as CellInvalid, cell_text
from . import mapping as mappings
from ..runtime.reasons import Reason
from .files import Sheet, read_sheet

ON_MATCH = ("skip", "update")
#: Rows per batch: progress moves and a refused row is retried with this many others at most.
BATCH_ROWS = 2000

#: Told (rows processed, rows in the file, whether what is processed is committed) after each batch.
Progress = Callable[[int, int, bool], None]
#: Called inside each batch's transaction, just before it commits, with (connection, rows processed,
#: rows in the file, the report so far): what it writes commits with the batch or not at all, so a run killed at any
#: moment can be resumed from exactly the rows its committed batches hold (``imports/jobs.py``).
Checkpoint = Callable[[sa.Connection, int, int, dict], None]


@dataclass
class ImportOptions:
    mapping: dict | None = None
    match: list[str] = dc_field(default_factory=list)
    on_match: str = "skip"
    dry_run: bool = False
    all_or_nothing: bool = False
    sheet: str | None = None


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    refused: list[dict] = dc_field(default_factory=list)
    skipped_rows: list[dict] = dc_field(default_factory=list)

    def as_json(self, **more) -> dict:
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped,
                "refused": self.refused, "skipped_rows": self.skipped_rows, **more}

    @classmethod
    def resumed(cls, saved: dict) -> "Report":
        """The report of a run's committed batches, as a checkpoint saved it."""
        return cls(saved.get("created", 0), saved.get("updated", 0), saved.get("skipped", 0),
                   list(saved.get("refused", [])), list(saved.get("skipped_rows", [])))


@dataclass
class Plan:
    """What an import will do, worked out before anything is written: the sheet, the columns and the
    fields they fill, the match key."""

    sheet: Sheet
    entity: object
    columns: list[tuple[int, str, dict]]
    mapping: dict
    match: list[str]


def parse_options(form) -> ImportOptions:
    """Options as the API and the page post them (form fields), checked; 422 naming the option."""
    import json
    errors = []
    raw_mapping = form.get("mapping")
    mapping = None
    if raw_mapping not in (None, ""):
        try:
            mapping = json.loads(raw_mapping)
        except ValueError as exc:
            errors.append(error("mapping", "json", f"the mapping is not JSON: {exc}"))
        else:
            if not isinstance(mapping, dict) or not all(isinstance(v, str) or v is None for v in mapping.values()):
                errors.append(error("mapping", "type", "the mapping must be a JSON object of column header → field key"))
    match = [m.strip() for m in (form.get("match") or "").split(",") if m.strip()]
    on_match = form.get("on_match") or "skip"
    if on_match not in ON_MATCH:
        errors.append(error("on_match", "enum", "on_match must be skip or update"))
    if errors:
        raise Invalid(errors)
    truthy = ("1", "true", "yes", "on")
    return ImportOptions(mapping=mapping, match=match, on_match=on_match,
                         dry_run=(form.get("dry_run") or "").lower() in truthy,
                         all_or_nothing=(form.get("all_or_nothing") or "").lower() in truthy,
                         sheet=(form.get("sheet") or None))


def plan(platform, conn, entity_key: str, sheet: Sheet, options: ImportOptions, access) -> Plan:
    """Columns to fields and the match key, checked; nothing written. 422 naming what is wrong."""
    model = platform.runtime.current(conn)
    entity = model.entity(entity_key)
    access.require("create", entity, model)
    if options.match and options.on_match == "update":
        access.require("update", entity, model)
    fields = mappings.importable_fields(entity, access, model)
    saved = mappings.load(conn, entity_key, access.user_id)
    chosen = mappings.guess(sheet.headers, fields, saved)
    if options.mapping is not None:
        chosen.update(mappings.checked(options.mapping, sheet.headers, fields, entity_key))
    taken: dict[str, str] = {}
    for header in sheet.headers:  # a guess may not take a field the user's own choice took
        key = chosen.get(header)
        if key in taken and (options.mapping or {}).get(header) != key:
            chosen[header] = None
        elif key:
            taken[key] = header
    columns = [(n, h, entity.field_map[chosen[h]]) for n, h in enumerate(sheet.headers) if chosen.get(h)]
    if not columns:
        names = "; ".join(f"{f['key']} ({', '.join(str(v) for v in (f.get('label') or {}).values())})"
                          if isinstance(f.get("label"), dict) else f["key"] for f in fields)
        raise Invalid([error("mapping", "no_match", f"no column of {sheet.filename} matches a field of {entity_key}; "
                                                    f"its columns: {', '.join(sheet.headers)}; fields: {names}. "
                                                    f"Send a mapping of column → field")])
    mapped = {f["key"] for _, _, f in columns}
    errors = []
    for key in options.match:
        if key not in mapped:
            errors.append(error("match", "unmapped", f"match field {key!r} is not filled by any column; "
                                                     f"mapped fields: {', '.join(sorted(mapped))}"))
        elif REGISTRY[entity.field_map[key]["type"]].multi_valued:
            errors.append(error("match", "multi_valued", f"field {key!r} holds several values and cannot be a match key"))
    if errors:
        raise Invalid(errors)
    return Plan(sheet, entity, columns, {h: chosen.get(h) for h in sheet.headers}, list(options.match))


def preview(platform, entity_key: str, sheet: Sheet, options: ImportOptions, access) -> dict:
    """The mapping the import would use and the first rows as they would be read: each cell's text and
    what is wrong with it (None when it converts). Nothing is written. ``errors`` holds what stops the
    import as a whole (no column matches, a bad match key), for the page to show beside the mapping."""
    from ..errors import CrmError as _CrmError
    with platform.records.engine.connect() as conn:
        model = platform.runtime.current(conn)
        entity = model.entity(entity_key)
        fields = mappings.importable_fields(entity, access, model)
        chosen = mappings.guess(sheet.headers, fields, mappings.load(conn, entity_key, access.user_id))
        if options.mapping is not None:
            chosen.update({h: k for h, k in options.mapping.items() if h in chosen})
        try:
            the_plan = plan(platform, conn, entity_key, sheet, options, access)
            errors: list[dict] = []
        except _CrmError as exc:
            errors = exc.errors
            columns = [(n, h, entity.field_map[chosen[h]]) for n, h in enumerate(sheet.headers)
                       if chosen.get(h) in entity.field_map]
            the_plan = Plan(sheet, entity, columns, chosen, [])
        run = _Run(platform, conn, model, the_plan, options, access, None)
        rows = []
        for number, cells in sheet.rows:
            data, _, problems = run._convert(number, cells)
            wrong = {p["column"]: {"code": p["code"], "message": p["message"]} for p in problems}
            whole = []  # what the record service would say of the row's values (a required field left empty)
            for e in entity.validator.validate(data)[2] if not problems else []:
                column = run.header_of.get(e.get("field"))
                if column is not None:
                    wrong.setdefault(column, {"code": e.get("code"), "message": e.get("message", "")})
                else:
                    label = entity.field_map.get(e.get("field"), {}).get("label", e.get("field"))
                    whole.append({**e, "label": label})
            rows.append((number, [("" if c is None else cell_text(c), wrong.get(h))
                                  for h, c in zip(sheet.headers, list(cells) + [None] * len(sheet.headers))], whole))
        conn.rollback()
    return {"mapping": the_plan.mapping if not errors else chosen, "fields": fields, "rows": rows, "errors": errors}


def run_import(platform, entity_key: str, data: bytes, filename: str, options: ImportOptions, access,
               progress: Progress | None = None, batch_rows: int = BATCH_ROWS, sheet: Sheet | None = None,
               keep_rows: bool = False, checkpoint: Checkpoint | None = None,
               resume: tuple[int, dict] | None = None) -> dict:
    """Import ``data`` (the bytes of ``filename``) into ``entity_key`` as ``access``; the report.

    Raises CrmError (400/403/404/422) for what is wrong with the file or the options: then nothing is
    written. Row problems are in the report's ``refused``; with ``keep_rows`` the report also keeps the
    refused rows' cells under ``kept`` (for the error sheet). ``resume``: (rows already committed, the
    report a checkpoint saved with them) of a run that was killed; the import goes on after those rows."""
    sheet = sheet or read_sheet(data, filename, options.sheet)
    engine = platform.records.engine
    with engine.connect().execution_options(sqlite_immediate=True) as conn:
        with conn.begin():
            the_plan = plan(platform, conn, entity_key, sheet, options, access)
            model = platform.runtime.current(conn)
            if not options.dry_run and access.user_id is not None:
                mappings.save(conn, entity_key, access.user_id, the_plan.mapping)
        run = _Run(platform, conn, model, the_plan, options, access, progress, checkpoint)
        start_at = 0
        if resume is not None and not (options.dry_run or options.all_or_nothing):
            start_at, run.report = resume[0], Report.resumed(resume[1])
        report = run.go(batch_rows, start_at)
    if keep_rows:
        from .error_sheet import refused_rows
        report["kept"] = refused_rows(report, sheet)
    return report


class _Run:
    def __init__(self, platform, conn, model, the_plan: Plan, options: ImportOptions, access, progress,
                 checkpoint: Checkpoint | None = None):
        self.records = platform.records
        self.conn, self.model, self.plan, self.options, self.access = conn, model, the_plan, options, access
        self.entity = the_plan.entity
        self.progress, self.checkpoint = progress, checkpoint
        self.report = Report()
        file = the_plan.sheet.filename[:1900]
        self.reason = Reason(f"import {file}", "import", file=file)
        self.header_of = {f["key"]: h for _, h, f in the_plan.columns}
        self.resolvers: dict[str, dict] = {}
        self.seen: dict[tuple, int] = {}
        self.existing: dict[tuple, int] | None = None  # read inside the first transaction (go)
        self.converters = [(n, h, f, REGISTRY[f["type"]].compile_import(f)) for n, h, f in the_plan.columns]

    # ---- the whole run ---------------------------------------------------------------------------
    def go(self, batch_rows: int, start_at: int = 0) -> dict:
        rows, total = self.plan.sheet.rows, len(self.plan.sheet.rows)
        single = self.options.dry_run or self.options.all_or_nothing
        outer = self.conn.begin() if single else None
        try:
            for start in range(start_at, total, batch_rows):
                batch = rows[start:start + batch_rows]
                tx = None if single else self.conn.begin()
                try:
                    if self.existing is None:
                        self.existing = self._existing() if self.plan.match else {}
                    self._batch(batch)
                except BaseException:
                    if tx is not None:
                        tx.rollback()
                    raise
                if tx is not None:
                    if self.checkpoint is not None:
                        self.checkpoint(self.conn, min(start + batch_rows, total), total, self.report.as_json())
                    tx.commit()
                    faults.reach("import.after_batch")
                if self.progress is not None:
                    self.progress(min(start + batch_rows, total), total, not single)
        except BaseException:
            if outer is not None:
                outer.rollback()
            raise
        self.report.refused.sort(key=lambda e: e["row"])
        applied = not self.options.dry_run and not (self.options.all_or_nothing and self.report.refused)
        if outer is not None:
            outer.commit() if applied else outer.rollback()
        if self.options.all_or_nothing and self.report.refused and not self.options.dry_run:
            self.report.created = self.report.updated = 0
        return self.report.as_json(total=total, applied=applied, dry_run=self.options.dry_run,
                                   mapping=self.plan.mapping, sheet=self.plan.sheet.sheet)

    # ---- one batch -------------------------------------------------------------------------------
    def _batch(self, batch) -> None:
        creates, updates = [], []
        for number, cells in batch:
            data, values, problems = self._convert(number, cells)
            if problems:
                self.report.refused.extend(problems)
                if not self.plan.match:  # a new record for sure: name at once what else would refuse it
                    failed = {p["column"] for p in problems}
                    more = [e for e in self.entity.validator.validate(data)[2]
                            if self.header_of.get(e.get("field")) not in failed]
                    if more:
                        self._refuse(number, more, values)
                continue
            if not data:
                self.report.refused.append({"row": number, "column": None, "value": None, "code": "empty",
                                            "message": "no value in any imported column"})
                continue
            key = self._key(data)
            if key is not None:
                if key in self.seen:
                    self.report.skipped += 1
                    self.report.skipped_rows.append({"row": number, "message": f"repeats row {self.seen[key]}"})
                    continue
                self.seen[key] = number
                found = self.existing.get(key)
                if found is not None:
                    if self.options.on_match == "skip":
                        self.report.skipped += 1
                        self.report.skipped_rows.append({"row": number, "message": f"matches record {found}"})
                    else:
                        updates.append((number, found, data, values))
                    continue
            creates.append((number, data, values))
        self._create(creates)
        for number, record_id, data, values in updates:
            self._update(number, record_id, data, values)

    def _convert(self, number: int, cells: tuple):
        data, values, problems = {}, {}, []
        resolve = self._resolve
        for n, header, f, convert in self.converters:
            cell = cells[n] if n < len(cells) else None
            if cell is None:
                continue
            try:
                data[f["key"]] = convert(cell, resolve)
                values[f["key"]] = cell
            except CellInvalid as exc:
                problems.append({"row": number, "column": header, "value": cell_text(cell), "message": exc.message,
                                 "code": exc.code})
        return data, values, problems

    def _refuse(self, number: int, errors: list[dict], values: dict) -> None:
        for e in errors or [{"message": "refused"}]:
            key = e.get("field")
            column = self.header_of.get(key) if key else None
            value = values.get(key) if key else None
            self.report.refused.append({"row": number, "column": column if column else key,
                                        "value": None if value is None else cell_text(value),
                                        "message": e.get("message", ""), "code": e.get("code")})

    # ---- writes through the record service -------------------------------------------------------
    def _create(self, pending: list) -> None:
        while pending:
            savepoint = self.conn.begin_nested()
            try:
                ids: list[int] = []
                self.records.create_many(self.entity.key, [d for _, d, _ in pending], conn=self.conn,
                                         access=self.access, reason=self.reason, created_ids=ids)
            except CrmError as exc:
                savepoint.rollback()
                named = {}
                for e in exc.errors:
                    if isinstance(e.get("row"), int) and 0 <= e["row"] < len(pending):
                        named.setdefault(e["row"], []).append(e)
                if not named:  # nothing names a row (two rows clash on a unique value): one at a time
                    for item in pending:
                        self._create_one(item)
                    return
                for n, errs in named.items():
                    self._refuse(pending[n][0], errs, pending[n][2])
                pending = [p for n, p in enumerate(pending) if n not in named]
                continue
            savepoint.commit()
            self.report.created += len(pending)
            self._remember(pending, ids)
            return

    def _create_one(self, item) -> None:
        number, data, values = item
        savepoint = self.conn.begin_nested()
        try:
            record = self.records.create(self.entity.key, data, conn=self.conn, access=self.access, reason=self.reason)
        except CrmError as exc:
            savepoint.rollback()
            self._refuse(number, exc.errors, values)
            return
        savepoint.commit()
        self.report.created += 1
        self._remember([item], [record["id"]])

    def _update(self, number: int, record_id: int, data: dict, values: dict) -> None:
        savepoint = self.conn.begin_nested()
        try:
            self.records.update(self.entity.key, record_id, data, conn=self.conn, access=self.access, reason=self.reason)
        except CrmError as exc:
            savepoint.rollback()
            self._refuse(number, exc.errors, values)
            return
        savepoint.commit()
        self.report.updated += 1

    def _remember(self, items, ids) -> None:
        """New records join the index, so a later file row with their key matches them."""
        if not self.plan.match or self.existing is None:
            return
        for (_, data, _), record_id in zip(items, ids):
            key = self._key(data)
            if key is not None:
                self.existing.setdefault(key, record_id)

    # ---- match keys ------------------------------------------------------------------------------
    def _key(self, data: dict) -> tuple | None:
        """The row's match key: each match field's normal form; None when any of them is empty (an
        empty cell never makes two rows the same customer)."""
        if not self.plan.match:
            return None
        parts = []
        for key in self.plan.match:
            value = data.get(key)
            part = None if value is None else self.entity.types[key].match_key(self.entity.field_map[key], str(value))
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)

    def _existing(self) -> dict[tuple, int]:
        """The match keys of the live records the user may read, to their ids (the oldest wins)."""
        t = self.entity.table
        q = sa.select(t.c.id, *[t.c[k] for k in self.plan.match]).where(t.c.archived_at.is_(None)).order_by(t.c.id)
        only = self.access.read_clause(self.entity, self.model)
        if only is not None:
            q = q.where(only)
        index: dict[tuple, int] = {}
        fields = [(k, self.entity.field_map[k], self.entity.types[k]) for k in self.plan.match]
        for row in self.conn.execute(q):
            parts = []
            for k, f, ftype in fields:
                value = row._mapping[k]
                part = None if value is None else ftype.match_key(f, ftype.format_text(f, value))
                if part is None:
                    break
                parts.append(part)
            else:
                index.setdefault(tuple(parts), row.id)
        return index

    # ---- references by title or unique field -----------------------------------------------------
    def _resolve(self, target: str, text: str):
        table = self.resolvers.get(target)
        if table is None:
            table = self.resolvers[target] = self._names_of(target)
        found = table.get(text_key(text) or "")
        if found is AMBIGUOUS:
            raise CellInvalid("reference", f"several {target} records are named {text!r}; write the id or a unique value")
        return found

    def _names_of(self, target: str) -> dict:
        """Each readable live record of ``target`` by its title and its unique fields' values."""
        other = self.model.entity(target)
        keys = [k for k in [title_field(other.doc)] if k] + [f["key"] for f in other.fields if f.get("unique")
                                                            and not REGISTRY[f["type"]].link_stored]
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        t = other.table
        q = sa.select(t.c.id, *[t.c[k] for k in keys]).where(t.c.archived_at.is_(None))
        only = self.access.readable_clause(other, self.model)
        if only is not None:
            q = q.where(only)
        table: dict = {}
        for row in self.conn.execute(q):
            for k in keys:
                value = row._mapping[k]
                name = text_key(other.types[k].format_text(other.field_map[k], value)) if value is not None else None
                if name:
                    table[name] = row.id if table.get(name, row.id) == row.id else AMBIGUOUS
        return table


AMBIGUOUS = object()


def title_field(doc: dict) -> str | None:
    """The field that names a record: ``title_field``, else the first searchable (text-like) field."""
    if doc.get("title_field"):
        return doc["title_field"]
    return next((f["key"] for f in doc.get("fields", []) if REGISTRY[f["type"]].searchable), None)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
