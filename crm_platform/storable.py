"""Text the databases can store: no NUL character, no unpaired surrogate.

PostgreSQL refuses NUL in any text value or parameter ("text fields cannot contain NUL"), and
neither database driver can encode a lone surrogate (JSON's ``"\\ud800"`` decodes to one) as UTF-8.
Either would surface as a 500 from deep inside a query. Text that comes from outside (JSON bodies,
query parameters, posted forms) is checked here once, as it is read, on both databases alike, so the
client is told which value is wrong. The field types keep their own NUL rule for text that arrives
by other roads (imports, bundles).
"""
from __future__ import annotations

import re

from .errors import error

#: One pass over the text finds either: NUL, or a code point in the surrogate range (only an
#: unpaired one can occur in a Python str decoded from JSON; a proper pair becomes one character).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL_MESSAGE = "must not contain NUL characters"
SURROGATE_MESSAGE = "must be valid Unicode text: it holds an unpaired surrogate (\\ud800-\\udfff)"


def text_problem(text: str) -> tuple[str, str] | None:
    """(code, message) saying why ``text`` cannot be stored, or None when it can."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "pattern", NUL_MESSAGE
    return "unicode", SURROGATE_MESSAGE


def shown(text: str) -> str:
    """``text`` with what cannot be stored (or sent back as UTF-8) written as ``\\uXXXX``, for messages."""
    return UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_problems(document, where: str | None = None) -> list[dict]:
    """Errors for every string (key or value) of a parsed JSON document that cannot be stored,
    each naming its place as a dotted path (``name``, ``records.3.name``); ``where`` names the
    document itself when it is a bare string."""
    problems = []
    stack = [(where, document)]
    while stack:  # not recursive: a document simplejson accepted may be nested deeper than Python recurses
        path, value = stack.pop()
        if isinstance(value, str):
            found = text_problem(value)
            if found:
                problems.append(error(path and shown(path), found[0], found[1]))
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = key if path is None else f"{path}.{key}"
                found = text_problem(key)
                if found:
                    problems.append(error(shown(inner), found[0], f"the key {found[1]}"))
                    continue
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((str(n) if path is None else f"{path}.{n}", item) for n, item in enumerate(value))
    return sorted(problems, key=lambda e: e["field"] or "")
