"""The bundle document: its deterministic serialisation, its checksum, and the checks a bundle must pass.

Determinism is what makes a bundle worth keeping in git: keys sorted, definitions of each kind
sorted by key (the order inside a definition, e.g. of fields, is meaningful and kept), two-space
indentation, UTF-8, exact decimals, a final newline; nothing that depends on when or where it was
written (no timestamps, no database ids).
"""
from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import simplejson
from jsonschema import Draft202012Validator
from referencing import Resource

from .. import jsonutil
from ..errors import BadRequest, Invalid, error
from ..metadata import meta_schemas
from ..metadata.definitions import schema_errors
from ..storable import json_problems

FORMAT = "crm-bundle"
FORMAT_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("bundle.schema.json")


def kinds() -> list[str]:
    """Every definition kind this instance knows, entities first: bundles carry each one."""
    from ..metadata.kinds import KINDS
    return ["entity"] + sorted(k for k in KINDS if k != "entity")


def schema_name(kind: str) -> str:
    from ..metadata.kinds import KINDS
    return KINDS[kind].schema


def serialise(bundle: dict) -> str:
    """The bytes a bundle is written as (and compared by)."""
    return jsonutil.dumps(bundle, sort_keys=True, indent=2) + "\n"


def compact(value) -> str:
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                            allow_nan=False, default=jsonutil._default)


def digest(value) -> str:
    return "sha256:" + hashlib.sha256(compact(value).encode("utf-8")).hexdigest()


def checksum(bundle: dict) -> str:
    return digest({k: v for k, v in bundle.items() if k != "checksum"})


def seal(bundle: dict) -> dict:
    """The bundle with its definitions in stable order and its checksum filled in."""
    out = {k: v for k, v in bundle.items() if k != "checksum"}
    out["definitions"] = {kind: sorted(docs, key=lambda d: d["key"]) for kind, docs in bundle["definitions"].items() if docs}
    out["checksum"] = checksum(out)
    return out


def parse(text: str | bytes) -> dict:
    """Read a bundle's text; malformed JSON is a 400 naming the line and column."""
    try:
        doc = jsonutil.loads(text)
    except RecursionError:
        raise BadRequest([error(None, "json", "the bundle is nested too deeply")]) from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, NaN
        where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise BadRequest([error(None, "json", f"the bundle is not valid JSON: {getattr(exc, 'msg', exc)}{where}")]) from None
    problems = json_problems(doc)  # "\u0000" or a lone "\ud800": valid JSON, but no database stores it
    if problems:
        raise Invalid(problems)
    return doc


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    registry = meta_schemas.registry().with_resource(schema["$id"], Resource.from_contents(schema))
    return Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=1)
def _sample_records_check():
    """A fast test that every sample record meets the meta-schema's ``$defs/record``, or None.

    jsonschema takes about 0.2 ms a record (most of a 20,000-record import's check); the record
    rule is small (an object; keys matching a pattern; ``_key``, if present, a record key), so it
    is read from the schema itself and applied with ``re``. It only ever says "all valid": when it
    does not, or when the schema's record rule has a shape it does not read (then it is None),
    jsonschema checks every record and reports the errors. tests/test_bundle_sample_size.py
    compares it with jsonschema.
    """
    schema = _validator().schema
    record, record_key = schema["$defs"]["record"], schema["$defs"]["record_key"]
    rows = schema["properties"]["sample_data"]["additionalProperties"]
    expected = {"type": "object", "propertyNames": {"pattern": record["propertyNames"]["pattern"]},
                "properties": {"_key": {"$ref": "#/$defs/record_key"}}}
    if (record != expected or set(record_key) != {"type", "pattern"} or record_key["type"] != "string"
            or set(rows) != {"type", "maxItems", "items"} or rows["items"] != {"$ref": "#/$defs/record"}):
        return None
    name, key, most = re.compile(record["propertyNames"]["pattern"]), re.compile(record_key["pattern"]), rows["maxItems"]

    def all_valid(sample: dict) -> bool:
        for records in sample.values():
            if not isinstance(records, list) or len(records) > most:
                return False
            for r in records:
                # Python's re with search(), as jsonschema applies "pattern"; the patterns are anchored.
                if type(r) is not dict or not all(type(k) is str and name.search(k) for k in r):
                    return False
                if "_key" in r and not (type(r["_key"]) is str and key.search(r["_key"])):
                    return False
        return True

    return all_valid


def meta_schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def check(bundle: object) -> dict:
    """Refuse (422) a bundle that is not well formed: format, version, meta-schema, checksum, kinds.

    References between definitions and to the instance are checked when the import is planned.
    """
    if not isinstance(bundle, dict):
        raise Invalid([error(None, "type", "a bundle must be a JSON object")])
    if bundle.get("format") != FORMAT:
        raise Invalid([error("format", "const", f"not a bundle: \"format\" must be \"{FORMAT}\"")])
    version = bundle.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise Invalid([error("format_version", "format_version",
                             f"this platform reads bundle format {FORMAT_VERSION}; the bundle says {version!r}")])
    problems = []
    checked = bundle
    fast = _sample_records_check()
    sample = bundle.get("sample_data")
    if fast is not None and isinstance(sample, dict) and fast(sample):
        # Every record is known to be valid: jsonschema checks the rest (entity keys, arrays).
        checked = {**bundle, "sample_data": {k: [] for k in sample}}
    for err in sorted(_validator().iter_errors(checked), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in err.absolute_path)
        problems.append(error(path or None, err.validator, err.message))
    if problems:
        raise Invalid(problems)
    expected = checksum(bundle)
    if bundle["checksum"] != expected:
        raise Invalid([error("checksum", "checksum", "the checksum does not match the content (the file was changed "
                                                     f"after it was written): it says {bundle['checksum']}, the "
                                                     f"content gives {expected}")])
    known = kinds()
    for kind, docs in bundle["definitions"].items():
        if kind not in known:
            problems.append(error(f"definitions.{kind}", "kind", f"this instance knows no definition kind '{kind}' "
                                                                 f"(it knows {', '.join(known)})"))
            continue
        seen: set = set()
        for doc in docs:
            where = f"definitions.{kind}.{doc['key']}"
            if doc["key"] in seen:
                problems.append(error(where, "unique", f"two {kind} definitions have the key '{doc['key']}'"))
            seen.add(doc["key"])
            problems += schema_errors(schema_name(kind), doc, prefix=where + ".")
    if problems:
        raise Invalid(problems)
    return bundle
