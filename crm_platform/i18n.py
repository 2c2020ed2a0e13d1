"""Labels in several languages: pick the text for a language with sensible fallbacks."""
from __future__ import annotations

FALLBACK = ("en", "zh")


def text_of(label, lang: str | None = None) -> str:
    """The label in ``lang`` (``zh-CN`` falls back to ``zh``), else English, else any language."""
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    if lang:
        if lang in label:
            return label[lang]
        base = lang.split("-")[0]
        if base in label:
            return label[base]
    for candidate in FALLBACK:
        if candidate in label:
            return label[candidate]
    return next(iter(label.values()), "")


def humanise(key: str) -> str:
    return key.replace("_", " ").capitalize()
