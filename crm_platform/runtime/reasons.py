"""Reasons the system writes in the audit trail, with a message key so that screens can say them in
the reader's language (``web/changes.reason_text``). Its own module so that the record service and
the audit hook can both use it without importing each other."""
from __future__ import annotations


class Reason(str):
    """A reason the system writes (an approval step, an automation, an import…): its English sentence — the ``reason`` column,
    what the API and every reader of the trail get as text — with a message key and arguments
    (``reason_key``, ``reason_args``), so that the screens say it in the reader's language and name
    stages and pipelines by their labels (``web/changes.py``). A comment a user typed is one of the
    arguments, kept as typed. It is a ``str``, so it travels as a write's reason like any other."""

    key: str
    args: dict

    def __new__(cls, text: str, key: str = "", **args):  # (copy and pickle call it with the text alone)
        self = super().__new__(cls, text)
        self.key, self.args = key, args
        return self
