"""Tags fields: values from a taxonomy, stored normalised in a link table per field.

``{"key": "customer_type", "type": "tags", "taxonomy": "customer_type", "multiple": true}``.
In the API a value is a list of tag keys (or one key, or null, when ``multiple`` is false).
Tags that a rule applies are shown but cannot be set by hand. Filters match a parent tag's
descendants too.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

from ..keys import table_name
from .base import END, FieldType, Invalid, register, type_error
from . import grouping as grp


def link_table_name(entity: str, field: str) -> str:
    # A hash keeps the name unique (entity "a_b" + field "c" vs "a" + "b_c") and within 63 bytes.
    digest = hashlib.sha1(f"{entity}\0{field}".encode()).hexdigest()[:8]
    return f"tl_{entity}_{field}"[:54] + f"_{digest}"


def build_link_table(entity: str, field: str, metadata: sa.MetaData, id_type) -> sa.Table:
    name = link_table_name(entity, field)
    return sa.Table(
        name, metadata,
        sa.Column("record_id", id_type, sa.ForeignKey(f"{table_name(entity)}.id", ondelete="CASCADE",
                                                      name=f"fk_{name}"), primary_key=True),
        sa.Column("tag", sa.String(63), primary_key=True),
        sa.Index(f"ix_{name}", "tag", "record_id"),
    )


def descendants(tags: list[dict]) -> dict[str, list[str]]:
    """Each tag key to itself and every tag below it."""
    children: dict[str, list[str]] = {}
    for t in tags:
        if t.get("parent"):
            children.setdefault(t["parent"], []).append(t["key"])
    out = {}
    for t in tags:
        seen, stack = [], [t["key"]]
        while stack:
            k = stack.pop()
            if k not in seen:
                seen.append(k)
                stack.extend(children.get(k, []))
        out[t["key"]] = seen
    return out


def label_lookup(items: list[dict]) -> dict[str, str]:
    """Every label of each item (tag or stage) in every language, case-folded, to the item's key, so
    a spreadsheet may name one as people read it (潜在客户, Potential); keys map to themselves."""
    table: dict[str, str] = {}
    for item in items:
        label = item.get("label")
        for text in (label.values() if isinstance(label, dict) else [label]):
            if isinstance(text, str) and text.strip():
                table.setdefault(text.strip().casefold(), item["key"])
    for item in items:
        table[item["key"].casefold()] = item["key"]
    return table


@register
class Tags(FieldType):
    name = "tags"
    title = {"en": "Tags", "zh": "标签"}
    link_stored = True
    multi_valued = True
    indexable = False
    operators = ("has_any", "has_all", "has_none")

    def options_schema(self):
        return {
            "taxonomy": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,62}" + END},
            "multiple": {"type": "boolean"},
        }

    def definition_problems(self, field, context):
        if not field.get("taxonomy"):
            return [("taxonomy", "a tags field needs a taxonomy")]
        if not context.taxonomy_is_available(field["taxonomy"]):
            return [("taxonomy", f"there is no active taxonomy '{field['taxonomy']}'")]
        return []

    def bind(self, field, state):
        taxonomy = state.taxonomies.get(field.get("taxonomy"))
        tags = taxonomy.doc.get("tags", []) if taxonomy is not None and not taxonomy.archived else []
        return {**field, "_tags": [t["key"] for t in tags if not t.get("rule")],
                "_rule_tags": [t["key"] for t in tags if t.get("rule")],
                "_descendants": descendants(tags), "_labels": label_lookup(tags)}

    def column_type(self, field):
        return None

    def taxonomy_of(self, field):
        return field.get("taxonomy")

    def export_value(self, field, value):
        """Rule-applied tags are left out: the rules apply them again where the bundle is loaded."""
        rule_tags = set(field.get("_rule_tags", []))
        return [t for t in value if t not in rule_tags] if isinstance(value, list) else (
            None if value in rule_tags else value)

    control = "choices"

    def control_of(self, field):
        return "choices" if self.multiple(field) else "choice"

    def options(self, field, state):
        """Every tag of the taxonomy: rule tags too, so lists can filter by them and show their labels.

        Forms leave out the ones in ``field["_rule_tags"]`` (a rule applies them, not a person).
        """
        taxonomy = state.taxonomies.get(field.get("taxonomy"))
        tags = taxonomy.doc.get("tags", []) if taxonomy is not None and not taxonomy.archived else []
        return [(t["key"], t["label"]) for t in tags]

    def form_text(self, field, value, tz=None):
        if not self.multiple(field):
            return value or ""
        return list(value or [])

    def from_form(self, field, raw, tz=None):
        from .choice import multiple_from_form
        picked = multiple_from_form(raw)
        if not self.multiple(field):
            return picked[0] if picked else None
        return picked

    def storage_signature(self, field):
        return ("links", field.get("taxonomy"))

    def multiple(self, field) -> bool:
        return field.get("multiple", True)

    def value_schema(self, field):
        return self._shaped(field, {"type": "string", "enum": list(field.get("_tags", []))})

    def _shaped(self, field, item: dict) -> dict:
        """The schema of one tag (``item``), or of a list of them when the field holds several."""
        if not self.multiple(field):
            return item
        schema = {"type": "array", "items": item, "uniqueItems": True}
        if field.get("required"):
            schema["minItems"] = 1
        return schema

    def answer_schema(self, field):
        """Answers carry the tags rules applied too; they are marked readOnly, as a write may not set
        them (a rule-only taxonomy would otherwise publish ``{"enum": []}``, refusing every tagged record)."""
        rule_tags = list(field.get("_rule_tags", []))
        if not rule_tags:
            return self.value_schema(field)
        by_rule = {"enum": rule_tags, "readOnly": True,
                   "description": "Applied by a rule: in answers only; a write may not set it"}
        manual = list(field.get("_tags", []))
        return self._shaped(field, {"type": "string", **({"anyOf": [{"enum": manual}, by_rule]} if manual else by_rule)})

    def compile_checker(self, field):
        allowed = frozenset(field.get("_tags", []))
        by_rule = frozenset(field.get("_rule_tags", []))
        multiple = self.multiple(field)
        required = bool(field.get("required"))
        taxonomy = field.get("taxonomy")

        def one(value):
            if type(value) is not str:
                raise type_error("a tag key" if not multiple else "a list of tag keys")
            if value not in allowed:
                if value in by_rule:
                    raise Invalid("enum", f"tag '{value}' is applied by a rule and cannot be set by hand")
                raise Invalid("enum", f"'{value}' is not a tag of taxonomy '{taxonomy}'")
            return value

        def check(value):
            if not multiple:
                return one(value)
            if type(value) is not list:
                raise type_error("a list of tag keys")
            for item in value:
                one(item)
            if len(set(value)) != len(value):
                raise Invalid("uniqueItems", "must not repeat a tag")
            if required and not value:
                raise Invalid("minItems", "must have at least one tag")
            return value

        return check

    def to_json(self, value):
        return value

    def compile_output(self, field):
        return None  # the list (or key) read_links / compile_links_output made

    def compile_links_output(self, field: dict):
        """A function from the tags linked to one record (in any order, possibly none) to its JSON
        value: in the taxonomy's order, a list, or one key or null when ``multiple`` is false. The
        record service reads the links of a whole page in one query and calls it per record."""
        order = {k: n for n, k in enumerate(field.get("_descendants", {}))}
        rank = lambda k: order.get(k, len(order))  # noqa: E731
        if self.multiple(field):
            return lambda tags: sorted(tags, key=rank)
        return lambda tags: min(tags, key=rank) if tags else None

    def format_text(self, field, value):
        if value is None:
            return ""
        return ", ".join(value) if isinstance(value, list) else value

    def parse_text(self, field, text):
        labels = field.get("_labels", {})
        parts = [labels.get(p.strip().casefold(), p.strip())
                 for p in text.replace("，", ",").replace(";", ",").replace("；", ",").split(",") if p.strip()]
        if not self.multiple(field):
            return self.compile_checker(field)(parts[0] if parts else "")
        return self.compile_checker(field)(list(dict.fromkeys(parts)))

    # ---- links ------------------------------------------------------------------------------------
    def write_links(self, conn, link: sa.Table, field: dict, record_id: int, value) -> None:
        """Replace the hand-set tags of a record; rule-applied tags are left to the rules."""
        keys = [] if value is None else (value if isinstance(value, list) else [value])
        manual = list(field.get("_tags", []))
        conn.execute(link.delete().where(link.c.record_id == record_id, link.c.tag.in_(manual)))
        if keys:
            conn.execute(link.insert(), [{"record_id": record_id, "tag": k} for k in keys])

    def write_new_links(self, conn, link: sa.Table, field: dict, values: list[tuple[int, object]]) -> None:
        """The tags of records just created, ``(record_id, value)`` pairs: nothing to replace, so one
        executemany for the whole batch instead of a delete and an insert per record."""
        rows = [{"record_id": record_id, "tag": k} for record_id, value in values if value is not None
                for k in (value if isinstance(value, list) else [value])]
        if rows:
            conn.execute(link.insert(), rows)

    def same_value(self, field, new, stored) -> bool:
        # Only the hand-set tags are written (write_links); the rules keep theirs, and order is no change.
        manual = frozenset(field.get("_tags", []))

        def hand_set(value):
            return {t for t in ([] if value is None else value if isinstance(value, list) else [value]) if t in manual}

        return hand_set(new) == hand_set(stored)

    def read_links(self, conn, link: sa.Table, field: dict, ids: list[int]) -> dict[int, object]:
        order = {k: n for n, k in enumerate(field.get("_descendants", {}))}
        found: dict[int, list[str]] = {}
        for start in range(0, len(ids), 900):
            rows = conn.execute(sa.select(link.c.record_id, link.c.tag).where(link.c.record_id.in_(ids[start:start + 900])))
            for record_id, tag in rows:
                found.setdefault(record_id, []).append(tag)
        for tags in found.values():
            tags.sort(key=lambda k: order.get(k, len(order)))
        if not self.multiple(field):
            return {k: v[0] for k, v in found.items()}
        return found

    def parse_filter_values(self, field, raw: str) -> list[str]:
        known = field.get("_descendants", {})
        values = [p.strip() for p in raw.split(",") if p.strip()]
        for v in values:
            if v not in known:
                raise Invalid("enum", f"'{v}' is not a tag of taxonomy '{field.get('taxonomy')}'")
        return values

    def expand(self, field: dict, values: list[str]) -> list[str]:
        """The tags and all their descendants: a parent tag matches its children."""
        return sorted({k for v in values for k in field.get("_descendants", {}).get(v, [v])})

    def link_filter(self, record_id, link: sa.Table, op: str, values: list[str], field: dict, common: bool = False):
        """``common``: the tags match many records; a correlated EXISTS then finds a page sooner."""
        if op == "has_all":
            return sa.and_(*(record_id.in_(sa.select(link.c.record_id).where(link.c.tag.in_(self.expand(field, [v]))))
                             for v in values))
        expanded = self.expand(field, values)
        if common and op == "has_any":
            return sa.exists().where(link.c.record_id == record_id, link.c.tag.in_(expanded))
        matched = record_id.in_(sa.select(link.c.record_id).where(link.c.tag.in_(expanded)))
        return matched if op == "has_any" else sa.not_(matched)

    def group_specs(self, field):
        return (None,)

    def grouping(self, field, column, spec, ctx, link=None):
        """One row per tag a record carries or rolls up to: a parent's group holds every record
        tagged with it or with any tag below it (each record once); untagged records group as null."""
        grp.no_spec(self, spec)
        record_id = ctx.extra["record_id"]
        pairs = [(top, below) for top, below_all in field.get("_descendants", {}).items() for below in below_all]
        if pairs:
            # (top, tag) pairs as a UNION ALL: SQLite takes no column names on a VALUES list
            tree = sa.union_all(*(sa.select(sa.literal(top, sa.String(63)).label("top"),
                                            sa.literal(below, sa.String(63)).label("tag"))
                                  for top, below in pairs)).subquery(f"{ctx.alias}_tree")
            rolled = (sa.select(link.c.record_id, tree.c.top.label("tag"))
                      .join_from(link, tree, tree.c.tag == link.c.tag).distinct().subquery(ctx.alias))
        else:
            rolled = sa.select(link.c.record_id, link.c.tag).subquery(ctx.alias)
        return grp.Grouping(rolled.c.tag, join=lambda source: source.outerjoin(rolled, rolled.c.record_id == record_id),
                            cell=lambda v: grp.empty_cell(v) or [("has_any", v)],
                            order=grp.ranked(rolled.c.tag, list(field.get("_descendants", {}))))

    def empty_filter(self, record_id, link: sa.Table):
        return sa.not_(record_id.in_(sa.select(link.c.record_id)))
