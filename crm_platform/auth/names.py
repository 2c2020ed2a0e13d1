"""User names: what one looks like, and when two are the same name.

A name is stored as typed after normalising: Unicode NFKC (full-width ``ａｄｍｉｎ`` is ``admin``,
a no-break space is a space), without spaces at the ends or runs of spaces inside. Control and
invisible characters (newlines, NUL, zero-width spaces, bidi controls, fillers) are refused: a
name someone cannot see is a name someone can impersonate. Two names are the same user name when
their keys are equal: the normalised name case-folded (``Admin`` and ``admin`` are one name).
"""
from __future__ import annotations

import unicodedata

USERNAME_MAX = 150
#: Longest key: case-folding may lengthen a name (ß → ss), at most three characters per character.
KEY_MAX = 600

#: General categories of characters that are never part of a name: controls, format characters
#: (zero-width, bidi), surrogates, private use, unassigned, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Characters that render as nothing although their category is a visible one (Unicode's
#: Default_Ignorable_Code_Point outside the categories above, and the blank braille pattern).
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0]
    + list(range(0x180B, 0x1810)) + list(range(0xFE00, 0xFE10)) + list(range(0xE0100, 0xE01F0)))


class BadName(ValueError):
    """Why a user name is refused (the message names the rule)."""


def normalise_username(raw) -> str:
    """The name as it is stored, or ``BadName`` saying which rule it breaks."""
    if not isinstance(raw, str):
        raise BadName("a user name is text")
    name = unicodedata.normalize("NFKC", raw)
    for ch in name:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES or ord(ch) in _INVISIBLE:
            raise BadName(f"a user name may not contain control or invisible characters (U+{ord(ch):04X})")
    name = " ".join(name.split())  # no spaces at the ends, one between words
    if not name or len(name) > USERNAME_MAX:
        raise BadName(f"a user name is 1 to {USERNAME_MAX} characters")
    if len(username_key(name)) > KEY_MAX:
        raise BadName(f"a user name is 1 to {USERNAME_MAX} characters")
    return name


def username_key(name: str) -> str:
    """What makes two names one: NFKC, case-folded (then NFKC again, as Unicode's NFKC_Casefold
    would), spaces collapsed. Defined for any text, so names stored before these rules have a key."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return " ".join(folded.split())


def lookup_key(raw) -> str | None:
    """The key to sign in with, or None when the text cannot be anyone's name."""
    try:
        return username_key(normalise_username(raw))
    except BadName:
        return None
