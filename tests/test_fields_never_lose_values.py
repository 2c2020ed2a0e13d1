"""Nothing is lost: a state machine over the HTTP API adds, writes, retypes, archives, restores,
renames and relabels fields of one entity, and checks after every step that

- every value ever stored is returned by GET /api/records/<entity>/<id> under the field's current
  key, converted as the field types' declared conversions say (integer 5 -> decimal 5.00 -> text "5.00");
- archived fields are absent from responses and come back with their values on restore;
- a change answered 409 or 422 leaves the definitions, the metadata revision and the values as they were;
- the status of every answer is the one the model predicts.

It runs on a fresh SQLite file per run and, when DATABASE_URL names PostgreSQL, on a throw-away
PostgreSQL database too.
"""
from __future__ import annotations

import copy
import re
import shutil
import tempfile
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)

from conftest import HAS_PG, _reset_pg, make_app
from crm_platform import jsonutil
from crm_platform.metadata.definitions import MetaState, normalise_entity, validate_entity
from crm_platform.metadata.field_types import REGISTRY, Unconvertible
from crm_platform.metadata.keys import SQL_RESERVED_WORDS, SYSTEM_COLUMNS
from crm_platform.runtime.validation import RecordValidator

ENTITY = "thing"
TYPES = ("text", "long_text", "integer", "decimal", "boolean", "date", "select", "email")
TEXT_LIKE = ("text", "long_text", "email")
#: A small pool, so keys collide (taken, archived, renamed onto), including names that look like
#: what the platform might use internally.
GOOD_KEYS = ("f1", "f2", "f3", "tmp_f1", "tmp_f2", "note", "f1_old")
BAD_KEYS = ("id", "version", "archived_at", "order", "Bad", "1x", "f1\n", "a-b", "")
CHOICES = ("red", "green", "blue", "yes", "n5")
SYSTEM_OUT = {"id", "version", "created_at", "updated_at", "created_by", "updated_by", "owner_id"}
OPTIONS = {t: set(REGISTRY[t].options_schema()) for t in REGISTRY}
#: What a field definition has whatever its type; on a type change the old type's own options go.
COMMON = {"key", "type", "label", "help", "required", "unique", "indexed", "default"}


def legal_key(key: str) -> bool:
    """What the design says a field key is: ^[a-z][a-z0-9_]*$ (at most 63), not reserved, not a system column."""
    return (isinstance(key, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,62}", key) is not None
            and key not in SQL_RESERVED_WORDS and key not in SYSTEM_COLUMNS)


# ---- strategies ---------------------------------------------------------------------------------------

label_line = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x17F, exclude_characters="\x7f"), min_size=1, max_size=10)
labels = st.one_of(label_line, st.fixed_dictionaries({"en": label_line}, optional={"zh": st.just("字段")}))
bad_labels = st.sampled_from(["", "a\x01b", {"en": ""}, {}, 5])

#: Text that other types can parse, so that conversions from text sometimes succeed; families of
#: values that become equal once converted ("5" and "05" as integers, e-mails lower-cased).
convertible_text = st.one_of(
    st.sampled_from(["5", " 5", "05", "5.0", "true", "y", "yes", "A@B.co", "a@b.co", "red", "Red", "2024-02-29",
                     " 2024-02-29"]),
    st.sampled_from(["-3", "1,000", "2.50", "2.5", "0.001", "1E+30", "No", "2024-02-30", "2024-02-29T00:00:00Z",
                     "BLUE ", "not an e-mail", "", " "]),
)
plain_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


def choice_defs(keys):
    return [{"key": k, "label": k.capitalize()} for k in keys]


choice_sets = st.lists(st.sampled_from(CHOICES), min_size=1, max_size=4, unique=True).map(choice_defs)


def field_options(ftype: str) -> st.SearchStrategy[dict]:
    """Type options: mostly legal, sometimes not (the answer is then 422)."""
    if ftype in TEXT_LIKE:
        return st.one_of(st.just({}), st.integers(1, 300).map(lambda n: {"max_length": n}))
    if ftype == "integer":
        return st.one_of(st.just({}), st.just({"min": -1000, "max": 1000}), st.just({"min": 0}))
    if ftype == "decimal":
        return st.one_of(st.just({}), st.integers(0, 4).map(lambda s: {"scale": s}),
                         st.just({"scale": 1, "min": Decimal("-99.5"), "max": 1000}))
    if ftype == "select":
        return choice_sets.map(lambda c: {"choices": c})
    return st.just({})


def value_for(f: dict) -> st.SearchStrategy:
    """A JSON value to write into field f: mostly legal, sometimes not."""
    t = f["type"]
    if t in ("text", "long_text"):
        good = st.one_of(convertible_text, convertible_text, plain_text, st.integers(-10**6, 10**6).map(str),
                         st.integers(250, 260).map(lambda n: "x" * n))
        bad = st.sampled_from(["a\x00b", 5, True])
    elif t == "email":
        word = st.text(st.sampled_from("abcXYZ09._"), min_size=1, max_size=5).filter(lambda w: "." not in (w[0], w[-1]))
        good = st.builds(lambda a, b, c: f"{a}@{b}.{c}", word, st.sampled_from(["ex", "Ex", "mail"]), st.sampled_from(["com", "CO"]))
        bad = st.sampled_from(["no-at-sign", "a@b", " a@b.co", 7])
    elif t == "integer":
        good = st.one_of(st.integers(-1000, 1000), st.integers(-10**12, 10**12), st.sampled_from([0, 2**63 - 1, -(2**63)]))
        bad = st.sampled_from(["5", Decimal("5.5"), True, 2**63])
    elif t == "decimal":
        good = st.one_of(st.builds(lambda n, p: Decimal(f"{n}E-{p}"), st.integers(-10**7, 10**7), st.integers(0, 4)),
                         st.integers(-1000, 1000))
        bad = st.sampled_from(["1.5", True, Decimal("1E+30")])
    elif t == "boolean":
        good = st.booleans()
        bad = st.sampled_from(["true", 1])
    elif t == "date":
        import datetime as dt
        good = st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(lambda d: d.isoformat())
        bad = st.sampled_from(["2024-02-30", "2024-1-1", 20240101])
    elif t == "select":
        good = st.sampled_from([c["key"] for c in f["choices"]])
        bad = st.sampled_from(["purple", "Red", ["red"]])
    else:
        raise AssertionError(t)
    return st.one_of(good, good, good, good, good, st.none(), bad)


def stored_form(f: dict, value):
    """The Python value as the database gives it back (decimals carry exactly their scale)."""
    if value is not None and f["type"] == "decimal":
        return value.quantize(Decimal(1).scaleb(-REGISTRY["decimal"].scale(f)))
    return value


def same_json(a, b) -> bool:
    """The same JSON text: same type, and decimals with the same digits (5.00 is not 5)."""
    return jsonutil.dumps(a) == jsonutil.dumps(b)


# ---- the machine -----------------------------------------------------------------------------------------

class FieldsNeverLoseValues(RuleBasedStateMachine):
    #: None for a fresh SQLite file per run; a PostgreSQL URL (reset per run) otherwise.
    database_url: str | None = None

    def __init__(self):
        super().__init__()
        self.tmpdir = None
        if self.database_url is None:
            self.tmpdir = tempfile.mkdtemp(prefix="crm-fields-")
            url = f"sqlite:///{self.tmpdir}/crm.sqlite"
        else:
            _reset_pg(self.database_url)
            url = self.database_url
        self.app = make_app(url)
        self.client = self.app.test_client()
        status, body = self.call("post", "/api/meta/entities", {"key": ENTITY, "label": "Thing", "fields": []})
        assert status == 201, body
        self.revision = self.current_revision()
        self.next_uid = 0
        self.active: list[dict] = []    # {"uid": n, "def": field definition}, in definition order
        self.archived: list[dict] = []
        self.records: dict[int, dict[int, object]] = {}  # record id -> field uid -> stored Python value

    def teardown(self):
        self.app.extensions["crm"].engine.dispose()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ---- plumbing ----------------------------------------------------------------------------------------
    def call(self, method: str, url: str, body=None):
        kwargs = {} if body is None else {"data": jsonutil.dumps(body), "content_type": "application/json"}
        r = getattr(self.client, method)(url, **kwargs)
        assert r.status_code != 500, (method, url, body, r.data)
        return r.status_code, (jsonutil.loads(r.data) if r.data else None)

    def current_revision(self) -> int:
        status, body = self.call("get", "/api/meta/entities")
        assert status == 200
        return body["revision"]

    def doc(self, active=None, archived=None) -> dict:
        doc = {"key": ENTITY, "label": "Thing", "fields": [copy.deepcopy(f["def"]) for f in (self.active if active is None else active)]}
        archived = self.archived if archived is None else archived
        if archived:
            doc["archived_fields"] = [copy.deepcopy(f["def"]) for f in archived]
        return doc

    def problems(self, active) -> list:
        return validate_entity(normalise_entity(self.doc(active=active)), MetaState())

    def taken(self) -> set[str]:
        return {f["def"]["key"] for f in self.active + self.archived}

    def field_url(self, f: dict) -> str:
        return f"/api/meta/entities/{ENTITY}/fields/{f['def']['key']}"

    def expect(self, status: int, predicted: int, what):
        assert status == predicted, (what, status, predicted)
        self.revision += 1 if status < 300 else 0

    # ---- rules: metadata -----------------------------------------------------------------------------
    @initialize(data=st.data())
    def some_fields_and_records(self, data):
        """Start from a few fields and records, so that the rules have something to work on."""
        keys = data.draw(st.lists(st.sampled_from(GOOD_KEYS), min_size=1, max_size=3, unique=True), label="keys")
        for key in keys:
            ftype = data.draw(st.sampled_from(("text",) + TYPES), label="type")  # text converts to the most types
            unique = {"unique": True} if data.draw(st.integers(0, 2)) == 0 else {}
            self._add_field({"key": key, "type": ftype, **unique, **data.draw(field_options(ftype), label="options")})
        for _ in range(data.draw(st.integers(0, 5), label="records")):
            self.create_record(data)

    @rule(data=st.data())
    def add_field(self, data):
        key = data.draw(st.one_of(*[st.sampled_from(GOOD_KEYS)] * 5, st.sampled_from(BAD_KEYS)), label="key")
        ftype = data.draw(st.sampled_from(TYPES), label="type")
        f = {"key": key, "type": ftype, **data.draw(field_options(ftype), label="options")}
        if data.draw(st.booleans()):
            f["label"] = data.draw(st.one_of(*[labels] * 7, bad_labels), label="label")
        if data.draw(st.integers(0, 5)) == 0:
            f["required"] = True
        if data.draw(st.integers(0, 3)) == 0:
            f["unique"] = True
        if data.draw(st.integers(0, 11)) == 0:
            f[data.draw(st.sampled_from(["max_length", "scale", "min", "choices"]))] = 3  # maybe foreign to the type
        self._add_field(f)

    def _add_field(self, f: dict):
        key = f["key"]
        new = {"uid": self.next_uid, "def": f}
        if key in self.taken():
            predicted = 409
        elif self.problems(self.active + [new]):
            predicted = 422
        elif f.get("required") and self.records:
            predicted = 409  # existing records would have no value
        else:
            predicted = 201
        status, body = self.call("post", f"/api/meta/entities/{ENTITY}/fields", f)
        self.expect(status, predicted, ("add", f, body))
        if status == 201:
            self.next_uid += 1
            new["def"] = normalise_entity({"key": ENTITY, "label": "x", "fields": [f]})["fields"][0]
            self.active.append(new)
            for values in self.records.values():
                values[new["uid"]] = None

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def retype_field(self, data):
        """Along a declared conversion (or to the same type, e.g. a new decimal scale)."""
        f = data.draw(st.sampled_from(self.active), label="field")
        declared = sorted(REGISTRY[f["def"]["type"]].converts_to & set(TYPES)) + [f["def"]["type"]]
        self._retype(data, f, data.draw(st.sampled_from(declared), label="target"))

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def retype_field_anyhow(self, data):
        """To any type: an undeclared conversion is refused with 409."""
        f = data.draw(st.sampled_from(self.active), label="field")
        self._retype(data, f, data.draw(st.sampled_from(TYPES), label="target"))

    def _retype(self, data, f: dict, target: str):
        old = f["def"]
        old_type = REGISTRY[old["type"]]
        patch: dict = {"type": target}
        if data.draw(st.booleans()):  # clearing them or not: the old type's options go either way
            for option in OPTIONS[old["type"]] - OPTIONS[target]:
                if option in old:
                    patch[option] = None
        if old.get("unique") and not REGISTRY[target].indexable and data.draw(st.integers(0, 7)) > 0:
            patch["unique"] = None  # else 422: a long_text cannot be unique
        if target == "select" and old["type"] != "select" and data.draw(st.integers(0, 7)) > 0:
            patch["choices"] = data.draw(choice_sets, label="choices")  # else 422: a select needs choices
        if target == "decimal" and data.draw(st.booleans()):
            patch["scale"] = data.draw(st.integers(0, 4), label="scale")
        new = {**old, **patch}
        if target != old["type"]:
            new = {k: v for k, v in new.items() if k in COMMON | OPTIONS[target]}
        new = {k: v for k, v in new.items() if v is not None}
        active_after = [{"uid": x["uid"], "def": new if x is f else x["def"]} for x in self.active]

        new_type = REGISTRY[target]
        converted = None
        if self.problems(active_after):
            predicted = 422
        elif old["type"] != target and target not in old_type.converts_to:
            predicted = 409  # not a declared conversion
        elif old["type"] != target or old_type.storage_signature(old) != new_type.storage_signature(new):
            predicted, converted = 200, {}
            for rid, values in self.records.items():
                try:
                    converted[rid] = stored_form(new, new_type.convert(old_type, old, new, values[f["uid"]]))
                except Unconvertible:
                    predicted = 409  # a stored value would be lost
            seen = [v for v in converted.values() if v is not None]
            if predicted == 200 and new.get("unique") and len(seen) != len(set(seen)):
                predicted = 409  # values that become equal cannot stay unique
        elif (new_type.value_schema(old) != new_type.value_schema(new)
              or bool(old.get("required")) != bool(new.get("required"))):
            predicted = 200  # same storage, other rules: every stored value must obey them
            checker = new_type.compile_checker(new)
            for values in self.records.values():
                value = values[f["uid"]]
                if value is None:
                    predicted = 409 if new.get("required") else predicted
                    continue
                try:
                    checker(new_type.to_json(value))
                except Exception:  # noqa: BLE001 - a stored value breaks the new rule
                    predicted = 409
        else:
            predicted = 200
        status, body = self.call("patch", self.field_url(f), patch)
        self.expect(status, predicted, ("retype", old, patch, body))
        if status == 200:
            f["def"] = new
            if converted is not None:
                for rid, value in converted.items():
                    self.records[rid][f["uid"]] = value

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def archive_field(self, data):
        f = data.draw(st.sampled_from(self.active), label="field")
        status, body = self.call("delete", self.field_url(f))
        self.expect(status, 200, ("archive", f, body))
        self.active.remove(f)
        self.archived.append(f)

    @precondition(lambda self: self.archived)
    @rule(data=st.data())
    def restore_field(self, data):
        f = data.draw(st.sampled_from(self.archived), label="field")
        status, body = self.call("post", self.field_url(f) + "/restore")
        self.expect(status, 200, ("restore", f, body))
        self.archived.remove(f)
        self.active.append(f)

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def restore_active_field(self, data):
        f = data.draw(st.sampled_from(self.active), label="field")
        status, body = self.call("post", self.field_url(f) + "/restore")
        self.expect(status, 404, ("restore an active field", f, body))

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def rename_field(self, data):
        f = data.draw(st.sampled_from(self.active), label="field")
        new_key = data.draw(st.one_of(st.sampled_from(GOOD_KEYS), st.sampled_from(BAD_KEYS)), label="new_key")
        if not legal_key(new_key):
            predicted = 422
        elif new_key in self.taken():
            predicted = 409
        else:
            predicted = 200
        status, body = self.call("post", self.field_url(f) + "/rename", {"new_key": new_key})
        self.expect(status, predicted, ("rename", f, new_key, body))
        if status == 200:
            f["def"] = {**f["def"], "key": new_key}

    @precondition(lambda self: self.active)
    @rule(data=st.data())
    def relabel_field(self, data):
        f = data.draw(st.sampled_from(self.active), label="field")
        label = data.draw(st.one_of(labels, labels, st.none(), bad_labels), label="label")
        new = {k: v for k, v in {**f["def"], "label": label}.items() if v is not None}
        active_after = [{"uid": x["uid"], "def": new if x is f else x["def"]} for x in self.active]
        predicted = 422 if self.problems(active_after) else 200
        status, body = self.call("patch", self.field_url(f), {"label": label})
        self.expect(status, predicted, ("relabel", f, label, body))
        if status == 200:
            f["def"] = new

    # ---- rules: records --------------------------------------------------------------------------------
    def _body(self, data, *, create: bool) -> dict:
        body = {}
        for f in self.active:
            if (create and f["def"].get("required") and data.draw(st.integers(0, 9)) > 0) or data.draw(st.booleans()):
                body[f["def"]["key"]] = data.draw(value_for(f["def"]), label=f["def"]["key"])
        if self.archived and data.draw(st.integers(0, 9)) == 0:
            body[data.draw(st.sampled_from(self.archived))["def"]["key"]] = None  # archived: not writable
        return body

    def _predict_write(self, body: dict, record_id: int | None):
        values, _system, errors = RecordValidator(self.doc()).validate(body, partial=record_id is not None)
        if errors:
            return 422, None
        stored = {f["uid"]: stored_form(f["def"], values[f["def"]["key"]]) for f in self.active if f["def"]["key"] in values}
        for f in self.active:
            value = stored.get(f["uid"])
            if f["def"].get("unique") and value is not None and any(
                    other[f["uid"]] == value for rid, other in self.records.items() if rid != record_id):
                return 409, None
        return None, stored

    @rule(data=st.data())
    def create_record(self, data):
        body = self._body(data, create=True)
        refused, stored = self._predict_write(body, None)
        status, out = self.call("post", f"/api/records/{ENTITY}", body)
        assert status == (refused or 201), (body, status, out)
        if status == 201:
            values = {f["uid"]: None for f in self.active + self.archived}
            values.update(stored)
            self.records[out["id"]] = values

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def update_record(self, data):
        rid = data.draw(st.sampled_from(sorted(self.records)), label="record")
        body = self._body(data, create=False)
        refused, stored = self._predict_write(body, rid)
        status, out = self.call("patch", f"/api/records/{ENTITY}/{rid}", body)
        assert status == (refused or 200), (body, status, out)
        if status == 200:
            self.records[rid].update(stored)

    @precondition(lambda self: self.active and self.records)
    @rule(data=st.data())
    def fill_field(self, data):
        """Write a value of one field into every record, so conversions have values to carry."""
        f = data.draw(st.sampled_from(self.active), label="field")
        for rid in sorted(self.records):
            body = {f["def"]["key"]: data.draw(value_for(f["def"]), label=f"{rid}.{f['def']['key']}")}
            refused, stored = self._predict_write(body, rid)
            status, out = self.call("patch", f"/api/records/{ENTITY}/{rid}", body)
            assert status == (refused or 200), (body, status, out)
            if status == 200:
                self.records[rid].update(stored)

    # ---- the invariant ---------------------------------------------------------------------------------
    @invariant()
    def nothing_is_lost(self):
        assert self.current_revision() == self.revision, "a refused change moved the revision, or an applied one did not"
        status, entity = self.call("get", f"/api/meta/entities/{ENTITY}")
        assert status == 200
        assert entity["fields"] == [f["def"] for f in self.active]
        assert entity.get("archived_fields", []) == [f["def"] for f in self.archived]
        for rid, values in self.records.items():
            status, record = self.call("get", f"/api/records/{ENTITY}/{rid}")
            assert status == 200, record
            assert set(record) == SYSTEM_OUT | {f["def"]["key"] for f in self.active}, record
            for f in self.active:
                value = values[f["uid"]]
                expected = None if value is None else REGISTRY[f["def"]["type"]].to_json(value)
                got = record[f["def"]["key"]]
                assert same_json(got, expected), (rid, f["def"], got, expected)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def test_fields_never_lose_values_sqlite():
    run_state_machine_as_test(FieldsNeverLoseValues, settings=settings(max_examples=100, stateful_step_count=20, **SETTINGS))


@pytest.mark.skipif(not HAS_PG, reason="DATABASE_URL names no PostgreSQL database")
def test_fields_never_lose_values_postgresql(pg_database):
    machine = type("FieldsNeverLoseValuesPg", (FieldsNeverLoseValues,), {"database_url": pg_database})
    run_state_machine_as_test(machine, settings=settings(max_examples=10, stateful_step_count=12, **SETTINGS))
