"""Match keys: the normal form two values share when a person would call them the same.

Imports de-duplicate on them, *Find duplicates* groups by them and search finds phone numbers through
them, so each rule lives here once. A key is a string, or None when the value gives nothing to match on
(an empty cell never makes two rows duplicates of each other).
"""
from __future__ import annotations

import re
import unicodedata

import phonenumbers

# The documents' customers are in mainland China: a number written without a country code is Chinese.
DEFAULT_REGION = "CN"

_SPACES = re.compile(r"\s+")


def text_key(value) -> str | None:
    """Text as people compare it: full-width forms folded (NFKC), case folded, runs of spaces as one."""
    if value is None:
        return None
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip().casefold()
    return text or None


def email_key(value) -> str | None:
    """An e-mail address compared whole and without regard to case (what mail servers do in practice)."""
    text = text_key(value)
    return text.replace(" ", "") if text else None


def phone_key(value, region: str = DEFAULT_REGION) -> str | None:
    """A phone number in E.164 (+8615515651234), whatever its spacing, dashes, brackets or +86/0086 prefix.

    A value phonenumbers cannot parse as a number falls back to its digits, so that two equally odd
    spellings of the same extension still match each other.
    """
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    if not raw:
        return None
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = "".join(ch for ch in raw if ch.isdigit())
    return digits or None


def phone_digits(value, region: str = DEFAULT_REGION) -> str | None:
    """The national digits of a number (15515651234), for matching a partial number typed into search."""
    key = phone_key(value, region)
    if key is None or not key.startswith("+"):
        return key
    try:
        return str(phonenumbers.parse(key).national_number)
    except phonenumbers.NumberParseException:  # pragma: no cover - key came from format_number
        return key.lstrip("+")


def phone_international(key: str) -> str:
    """An E.164 key as people write it internationally (+86 10 6234 5678)."""
    return phonenumbers.format_number(phonenumbers.parse(key), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
