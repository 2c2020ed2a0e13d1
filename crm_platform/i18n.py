"""Labels in several languages: pick the text for a language with sensible fallbacks."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FALLBACK = ("en", "zh")
#: The "language" of pages that speak every language side by side (the admin): "Name 名称".
EVERY = "*"


def text_of(label, lang: str | None = None) -> str:
    """The label in ``lang`` (``zh-CN`` falls back to ``zh``), else English, else any language."""
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    if lang == EVERY:
        return in_every_language(label)
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


def field_label(field: dict, lang: str | None = None) -> str:
    """The one rule for naming a field to a person: its label in ``lang`` (with ``text_of``'s
    fallbacks), else its key made readable. Screens, public forms, errors, history and the admin
    (``lang`` = ``EVERY``: each language it has) all name fields this way."""
    label = field.get("label")
    return text_of(label, lang) if label else humanise(field["key"])


def in_every_language(label, languages: tuple[str, ...] = FALLBACK) -> str:
    """A label written once per language, for pages that speak both (the admin): "Name 名称";
    a text the same in every language appears once."""
    texts = []
    for lang in languages:
        text = text_of(label, lang)
        if text and text not in texts:
            texts.append(text)
    return " ".join(texts)


@dataclass(frozen=True)
class Locale:
    """How values are written for one reader: the page's language and the reader's time zone.

    Field types format values for people through ``FieldType.display_text(field, value, locale)``;
    this object is what they are told about the reader. Number and currency conventions (grouping,
    a currency sign, percentages) belong here when they are added, so that is one change in one
    place. Exports and APIs never see it: they write values raw.
    """

    lang: str = "en"
    tz: dt.tzinfo = dt.timezone.utc
