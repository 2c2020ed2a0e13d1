"""Text-like field types: text, long_text, email, phone, url."""
from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa

from ...match_keys import email_key, name_key, phone_digits, phone_international, phone_key
from .base import END, FieldType, Invalid, cell_text, like_escape, register, type_error
from . import grouping as grp

#: PostgreSQL refuses NUL in text; refusing it at validation keeps that a 422, never a 500.
NO_NUL = r"^[^\u0000]*" + END


class TextLike(FieldType):
    inline_editable = True
    searchable = True
    operators = ("eq", "ne", "in", "not_in", "contains", "starts_with", "ends_with")
    default_max_length = 255
    #: (pattern, message) the value must match, besides the NUL rule.
    pattern: str | None = None
    pattern_message = ""

    def options_schema(self):
        return {"max_length": {"type": "integer", "minimum": 1, "maximum": 1_000_000}}

    def group_specs(self, field):
        return (None,)

    def grouping(self, field, column, spec, ctx, link=None):
        grp.no_spec(self, spec)
        return grp.value_grouping(self, field, column)

    def max_length(self, field) -> int:
        return field.get("max_length") or self.default_max_length

    def column_type(self, field):
        # Always TEXT: the length is a rule of the record service, so tightening or relaxing it
        # is a metadata change with a row check, never a table rebuild.
        return sa.Text()

    def formula_operand(self, field):
        return ("str", 0)

    def value_schema(self, field):
        schema = {"type": "string", "maxLength": self.max_length(field), "pattern": self.pattern or NO_NUL}
        if field.get("required"):
            schema["minLength"] = 1
        return schema

    def compile_checker(self, field):
        max_length = self.max_length(field)
        min_length = 1 if field.get("required") else 0
        regex = re.compile(self.pattern or NO_NUL)
        pattern_message = self.pattern_message or "must not contain NUL characters"

        def check(value):
            if type(value) is not str:
                raise type_error("a string")
            n = len(value)
            if n > max_length:
                raise Invalid("maxLength", f"must be at most {max_length} characters long")
            if n < min_length:
                raise Invalid("minLength", "must not be empty")
            if regex.search(value) is None:
                raise Invalid("pattern", pattern_message)
            return value

        return check

    def parse_text(self, field, text):
        return self.compile_checker(field)(text.strip() if self.pattern else text)

    def compile_import(self, field):
        if type(self).import_value is not FieldType.import_value:  # a type with its own cell rules
            return super().compile_import(field)
        check = self.compile_checker(field)
        return lambda cell, resolve=None: check(cell_text(cell))  # cell_text trims, as parse_text would

    def filter_clause(self, column, op, values, field, dialect):
        if op in ("contains", "starts_with", "ends_with"):
            needle = like_escape(values[0])
            pattern = {"contains": f"%{needle}%", "starts_with": f"{needle}%", "ends_with": f"%{needle}"}[op]
            return column.ilike(pattern, escape="\\")
        return super().filter_clause(column, op, values, field, dialect)

    def empty_clause(self, column, dialect):
        return sa.or_(column.is_(None), column == "")  # an emptied text field holds ""

    #: What a required field of the type holds once erased (``erased_value``): text matching the
    #: type's own pattern, different for each record so that a unique field stays unique.
    erased_text = "[erased #{id}]"

    def erased_value(self, field, record_id):
        value = self.erased_text.format(id=record_id, short=record_id % 1_000_000)
        try:
            return self.compile_checker(field)(value)
        except Exception:  # noqa: BLE001 - a field's own rule (a short max_length) refuses it: no placeholder
            return None


@register
class Text(TextLike):
    name = "text"
    dynamic_defaults = frozenset({"current_user"})

    def dynamic_value(self, field, token, moment, user_name):
        return user_name
    title = {"en": "Text", "zh": "文本"}
    #: A name (of a company, a person) is the usual text to find duplicates by: near-identical
    #: spellings match (``match_keys.name_key``).
    matchable = True
    converts_to = frozenset({"long_text", "email", "phone", "url", "select", "multi_select",
                             "integer", "decimal", "boolean", "date", "datetime"})


    def duplicate_key(self, field, value):
        return name_key(value)


@register
class LongText(TextLike):
    name = "long_text"
    title = {"en": "Long text", "zh": "长文本"}
    control = "textarea"
    inline_editable = False  # several lines: edited on the record's form
    default_max_length = 100_000
    indexable = False
    converts_to = frozenset({"text"})


@register
class Email(TextLike):
    name = "email"
    title = {"en": "E-mail", "zh": "邮箱"}
    control = "email"
    default_max_length = 254
    pattern = r"^[^@\s\u0000-\u001f]+@[^@\s\u0000-\u001f.]+(\.[^@\s\u0000-\u001f.]+)+" + END
    pattern_message = "must be an e-mail address such as name@example.com"
    converts_to = frozenset({"text", "long_text"})
    matchable = True
    personal = True
    erased_text = "erased-{id}@erased.invalid"  # a reserved domain (RFC 2606): never delivered

    def compile_checker(self, field):
        check = super().compile_checker(field)
        # Lower-casing the address keeps `unique` and de-duplication meaningful; the rule runs
        # after validation so the published schema still describes what is accepted.
        return lambda value: check(value).lower()

    def match_key(self, field, text):
        return email_key(text)


@register
class Phone(TextLike):
    name = "phone"
    title = {"en": "Phone", "zh": "电话"}
    control = "tel"
    default_max_length = 40
    pattern = r"^\+?[0-9][0-9 ().\-/]{1,38}(( ?(x|ext\.?) ?)[0-9]{1,6})?" + END
    pattern_message = "must be a phone number: digits, spaces, ( ) . - /, an optional leading + and extension"
    converts_to = frozenset({"text", "long_text"})
    matchable = True
    personal = True
    erased_text = "00 x{short}"  # no number anyone has; the extension tells records apart

    def match_key(self, field, text):
        return phone_key(text)  # +86 138-0013-8000, 0086 13800138000 and 138 0013 8000 are one number

    def search_text(self, field, value):
        # national digits (15515651234): "155 1565", "155-1565-1234" and "+86 15515651234" typed into
        # search are folded the same way and found as a substring, however the number was stored
        return phone_digits(value) if value not in (None, "") else None

    def import_value(self, field, cell, resolve=None):
        """Spreadsheets typed on Chinese keyboards carry full-width digits and brackets (１３８　００１３),
        folded here; a number written in a way the field does not take ("(010) 6234 5678") but that
        is a possible number is written in international form (+86 10 6234 5678)."""
        text = unicodedata.normalize("NFKC", cell).strip() if isinstance(cell, str) else cell
        try:
            return super().import_value(field, text, resolve)
        except Invalid:
            key = phone_key(text)
            if key is None or not key.startswith("+"):
                raise
            return super().import_value(field, phone_international(key), resolve)


@register
class Url(TextLike):
    name = "url"
    title = {"en": "URL", "zh": "网址"}
    control = "url"
    default_max_length = 2048
    pattern = r"^https?://[^\s/?#\u0000-\u001f]+[^\s\u0000-\u001f]*" + END
    pattern_message = "must be a web address starting with http:// or https://"
    converts_to = frozenset({"text", "long_text"})
