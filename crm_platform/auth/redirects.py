"""Where a ``next`` parameter may send the browser: a path on this site, or the default.

Every redirect that takes ``next`` (sign-in, the language switch) asks ``local_path``, so an open
redirect cannot come back through one of them. Browsers are lenient in ways a prefix check is not:
they drop tabs, CR and LF anywhere in a URL (``/\\t/evil.example`` becomes ``//evil.example``) and
read a backslash as a slash (``/\\evil.example``), so a value with any control character or
backslash is not a path of ours, whatever else it says.
"""
from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site (``/app/company?page=2``); ``default`` otherwise."""
    if not target or not isinstance(target, str):
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
