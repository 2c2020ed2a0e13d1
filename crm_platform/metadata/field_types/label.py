"""Labels: a plain string, or an object of language code to text ({"en": "Student", "zh": "学员"})."""
from __future__ import annotations

LABEL_SCHEMA_ID = "urn:crm:label"


def label_schema_ref() -> dict:
    return {"$ref": LABEL_SCHEMA_ID}
