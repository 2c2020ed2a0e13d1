"""Checks on what every request brings, before any view reads it: one place instead of one per view.

- Query parameters and posted form fields holding text no database stores (NUL, an unpaired
  surrogate) are refused: 400 naming the parameter, 422 naming the form field. JSON bodies of the
  API are checked where they are parsed (``http.errors.json_body``); JSON posted to a page
  (a board move) is checked here.
- ``<id:...>`` in routes bounds ids to what the columns hold (``ids.IdConverter``).

The API answers with its JSON errors; pages with the error page in the reader's language.
"""
from __future__ import annotations

from typing import Callable

from flask import Flask, request

from ..errors import BadRequest, CrmError, Invalid, error
from ..ids import IdConverter
from ..storable import json_problems, shown, text_problem


def _is_api() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _problems(pairs, what: str) -> list[dict]:
    out = []
    for name, value in pairs:
        for text, about in ((name, f"the {what} name"), (value, f"the {what}")):
            found = text_problem(text) if isinstance(text, str) else None
            if found:
                out.append(error(shown(name), found[0], f"{about} {found[1]}"))
                break
    return out


def unstorable_input() -> CrmError | None:
    """The refusal of this request's query string, form or page JSON, or None when all can be stored."""
    problems = _problems(request.args.items(multi=True), "parameter")
    if problems:
        return BadRequest(problems)
    if _is_api() or request.method in ("GET", "HEAD", "OPTIONS"):
        return None  # the API reads its bodies itself (and must find them unparsed)
    if request.is_json:
        problems = json_problems(request.get_json(silent=True))
    else:
        problems = _problems(request.form.items(multi=True), "field")
    return Invalid(problems) if problems else None


def init_request_input(app: Flask, refusal_page: Callable[[CrmError], object]) -> None:
    """After sign-in's hook, so a request that may not come in at all is told that first.

    ``refusal_page`` answers a refusal on a page that has no error handler of its own (sign-in,
    the designer): the screens' error page, handed in by the wiring (``app.py``) since this layer
    sits below the screens.
    """

    def refuse_unstorable_input():
        """before_request: raise (API, screens) or answer (other pages) the refusal, if any."""
        refusal = unstorable_input()
        if refusal is None:
            return None
        if _is_api() or request.blueprint in ("screens", "public_forms"):
            raise refusal  # their own error handlers answer it (JSON, or the localised error page)
        return refusal_page(refusal)

    app.before_request(refuse_unstorable_input)


def register_converters(app: Flask) -> None:
    """Before any blueprint: its routes may use ``<id:...>``."""
    app.url_map.converters["id"] = IdConverter
