"""Yes/no flags in query strings (``?dry_run=1``, ``?archived=true``, ``?exact_total=yes``,
``?sample_data=no``): one parser for every endpoint and screen.

A flag is true when sent as ``1``, ``true`` or ``yes`` and false as ``0``, ``false`` or ``no``, in
any letter case; a flag left out is false. Any other value (``on``, ``2``, ``y``, ``TRUE `` with a
space, an empty value, or the flag repeated with different values) is a 400 naming the parameter:
read as false, ``?dry_run=on`` would apply for real a change its sender meant only to try.
"""
from __future__ import annotations

from .errors import BadRequest, error

TRUE = frozenset({"1", "true", "yes"})
FALSE = frozenset({"0", "false", "no"})
SPELLINGS = "1, true or yes (0, false or no to turn it off)"


def parse_flag(args, name: str) -> bool:
    """The flag ``name`` of a query string (a werkzeug MultiDict), or BadRequest naming it."""
    found = set()
    for raw in args.getlist(name):
        word = raw.lower()
        if word not in TRUE and word not in FALSE:
            raise BadRequest([error(name, "type", f"'{name}' is a yes/no flag: send {SPELLINGS}, not {raw[:40]!r}")])
        found.add(word in TRUE)
    if len(found) > 1:
        raise BadRequest([error(name, "type", f"'{name}' is given more than once with different values")])
    return found == {True}
