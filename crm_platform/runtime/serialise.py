"""Records in and out of JSON: the marshmallow schema (the declared contract) and the compiled dumper.

The marshmallow fields hold no rules of their own: loading calls the type's compiled checker and
dumping calls its ``to_json``, so the API, the screens and imports agree on every value.

Reads go through ``RecordDumper``, compiled once per revision like the validator: a plain function
per result shape from a row to the JSON-ready dict, with each field type's ``compile_output``. It
gives the same JSON as the schema (tests/test_compiled_dumper_agrees.py holds the two together) at
a fraction of the cost: marshmallow looks every key up on a SQLAlchemy row through a chain of
failed attribute look-ups and calls a method per field and record.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Callable

import marshmallow as ma
import sqlalchemy as sa

from ..metadata.field_types import Invalid, REGISTRY
from ..metadata.field_types.temporal import iso, iso_output


class TypedField(ma.fields.Field):
    def __init__(self, field: dict, **kwargs):
        super().__init__(allow_none=not field.get("required"), **kwargs)
        self.ftype = REGISTRY[field["type"]]
        self.check = self.ftype.compile_checker(field)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else self.ftype.to_json(value)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return self.check(value)
        except Invalid as exc:
            raise ma.ValidationError(exc.message) from None


class Stamp(ma.fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else iso(value)


def build_output_schema(entity) -> ma.Schema:
    spec = {
        "id": ma.fields.Integer(),
        "version": ma.fields.Integer(),
        "created_at": Stamp(),
        "updated_at": Stamp(),
        "created_by": ma.fields.Integer(allow_none=True),
        "updated_by": ma.fields.Integer(allow_none=True),
        "owner_id": ma.fields.Integer(allow_none=True),
    }
    for f in entity.fields:
        spec[f["key"]] = TypedField(f)
    return ma.Schema.from_dict(spec, name=f"Record_{entity.key}")()


#: The system columns in the order the schema writes them; the stamps are written as ``iso`` writes them.
SYSTEM_KEYS = ("id", "version", "created_at", "updated_at", "created_by", "updated_by", "owner_id")
SYSTEM_OUTPUT = {"created_at": iso_output, "updated_at": iso_output}


class RecordDumper:
    """``entity.output.dump(row._mapping)`` compiled: same keys, order and values.

    Keys the row lacks are left out (as marshmallow leaves out missing attributes); columns the
    schema does not declare (``_revision``) are ignored. Link-stored fields are not columns: the
    record service fills them in with ``LinkReader``.
    """

    def __init__(self, entity):
        outputs: dict[str, Callable | None] = {k: SYSTEM_OUTPUT.get(k) for k in SYSTEM_KEYS}
        for f in entity.fields:
            outputs[f["key"]] = REGISTRY[f["type"]].compile_output(f)
        self._outputs = outputs
        self._plans: dict[tuple, Callable] = {}

    def plan(self, columns: tuple[str, ...]) -> Callable:
        """The dump function for rows with these column names, built once per shape."""
        found = self._plans.get(columns)
        if found is None:
            position = {name: n for n, name in enumerate(columns)}
            names = tuple(k for k in self._outputs if k in position)
            convert = tuple((k, self._outputs[k]) for k in names if self._outputs[k] is not None)
            pick = itemgetter(*(position[k] for k in names)) if len(names) > 1 else (
                (lambda row, n=position[names[0]]: (row[n],)) if names else (lambda row: ()))

            def found(row, names=names, pick=pick, convert=convert) -> dict:
                record = dict(zip(names, pick(row)))
                for key, output in convert:
                    value = record[key]
                    if value is not None:
                        record[key] = output(value)
                return record

            self._plans[columns] = found
        return found

    def one(self, row) -> dict:
        return self.plan(tuple(row._fields))(row)

    def many(self, result) -> list[dict]:
        """Every row of a result (or of a list of rows sharing ``result.keys()``)."""
        dump = self.plan(tuple(result.keys()))
        return [dump(row) for row in result]


class LinkReader:
    """The values of an entity's link-stored fields (tags) for many records in one query.

    One SELECT over every link table (UNION ALL, each row tagged with its field's position), then
    each field type's ``compile_links_output`` turns a record's links into its JSON value.
    """

    #: Bound ids per statement: SQLite's old limit is 999 parameters, and each link table repeats them.
    MAX_PARAMS = 900

    def __init__(self, entity):
        self.keys = tuple(entity.link_tables)
        self._outputs = tuple(REGISTRY[entity.field_map[k]["type"]].compile_links_output(entity.field_map[k])
                              for k in self.keys)
        if not self.keys:  # nothing to read: ``attach`` returns the records as they are
            return
        ids = sa.bindparam("ids", expanding=True)
        selects = [sa.select(sa.literal(n).label("field"), link.c.record_id, link.c.tag).where(link.c.record_id.in_(ids))
                   for n, link in enumerate(entity.link_tables.values())]
        self.statement = selects[0] if len(selects) == 1 else sa.union_all(*selects)
        # One record (a read by id, a write): a plain parameter instead of an expanding IN, which
        # SQLAlchemy would re-render on every execution.
        one = [sa.select(sa.literal(n).label("field"), link.c.record_id, link.c.tag)
               .where(link.c.record_id == sa.bindparam("id")) for n, link in enumerate(entity.link_tables.values())]
        self.one_statement = one[0] if len(one) == 1 else sa.union_all(*one)
        self._chunk = max(1, self.MAX_PARAMS // max(1, len(selects)))

    def attach(self, conn, records: list[dict]) -> list[dict]:
        if not self.keys or not records:
            return records
        ids = [r["id"] for r in records]
        found: dict[tuple[int, int], list[str]] = {}
        if len(ids) == 1:
            batches = [(self.one_statement, {"id": ids[0]})]
        else:
            batches = [(self.statement, {"ids": ids[start:start + self._chunk]}) for start in range(0, len(ids), self._chunk)]
        for statement, params in batches:
            for field, record_id, tag in conn.execute(statement, params):
                found.setdefault((record_id, field), []).append(tag)
        pairs = tuple(enumerate(zip(self.keys, self._outputs)))
        for r in records:
            rid = r["id"]
            for n, (key, output) in pairs:
                r[key] = output(found.get((rid, n), ()))
        return records
