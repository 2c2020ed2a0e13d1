"""Every failure becomes a JSON error body with the right status; nothing leaks a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import jsonutil
from ..errors import BadRequest, CrmError, Invalid, UriTooLong, error
from ..query_flags import parse_flag
from ..storable import json_problems

log = logging.getLogger("crm_platform")


def json_body(*, required: bool = True):
    """The request body parsed as JSON (decimals exact), or a 400 that says what is wrong.

    A body must be sent as JSON (``Content-Type: application/json`` or ``application/<x>+json``):
    the same text sent as ``text/plain`` or a form is refused, not guessed at.
    """
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest([error(None, "body", "the request body must be a JSON document")])
        return None
    if not request.is_json:
        sent = request.mimetype or "no Content-Type"
        raise BadRequest([error("Content-Type", "content_type",
                                f"send the body as JSON with Content-Type: application/json, not {sent[:100]}")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest([error(None, "body", "the request body is not UTF-8 text")]) from None
    try:
        document = jsonutil.loads(text)
    except RecursionError:
        raise BadRequest([error(None, "body", "the JSON document is nested too deeply")]) from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, too-long integers, NaN
        raise BadRequest([error(None, "body", f"the request body is not valid JSON: {str(exc)[:200]}")]) from None
    # Valid JSON may still hold text no database stores ("\u0000", a lone "\ud800"): refused here,
    # naming each place, before any of it reaches a query.
    problems = json_problems(document, "body" if isinstance(document, str) else None)
    if problems:
        raise Invalid(problems)
    return document


def json_object(*, required: bool = True) -> dict:
    """The body as a JSON object; with ``required=False`` an empty body is ``{}`` (but ``null`` is not an object)."""
    if not required and not request.get_data(cache=True).strip():
        return {}
    body = json_body()
    if not isinstance(body, dict):
        raise BadRequest([error(None, "body", "the request body must be a JSON object")])
    return body


def flag(name: str) -> bool:
    """A yes/no query flag of this request (see query_flags: anything but 1/0, true/false, yes/no is 400)."""
    return parse_flag(request.args, name)


def refuse_long_urls():
    """before_request: an address longer than CRM_MAX_URL_BYTES is 414 (JSON on the API), before sign-in."""
    env = request.environ
    uri = env.get("RAW_URI") or env.get("REQUEST_URI") or f"{env.get('PATH_INFO', '')}?{env.get('QUERY_STRING', '')}"
    limit = current_app.config["CRM_MAX_URL_BYTES"]
    if len(uri) > limit:
        raise UriTooLong([error(None, "uri_too_long", f"the address is {len(uri)} bytes long, more than {limit}; "
                                                      f"send fewer or shorter query parameters")])


def register_error_handlers(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_long_urls)

    @app.errorhandler(CrmError)
    def crm_error(exc: CrmError):
        return jsonify(exc.body()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        messages = {413: f"the request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"}
        body = {"errors": [error(None, exc.name.lower().replace(" ", "_"), messages.get(exc.code, exc.description))]}
        response = jsonify(body)
        response.status_code = exc.code
        for name, value in exc.get_headers():  # e.g. Allow on a 405, which RFC 9110 requires
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {"errors": [error(None, "internal", "something went wrong on our side; the change was not applied")]}
        if not request.path.startswith("/api/"):
            return "Something went wrong on our side; the change was not applied.", 500
        return jsonify(body), 500
