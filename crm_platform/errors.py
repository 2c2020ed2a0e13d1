"""Errors that reach clients. Each carries an HTTP status and a list of {field, code, message}."""
from __future__ import annotations


class CrmError(Exception):
    status = 400

    def __init__(self, errors: list[dict] | str, *, status: int | None = None, extra: dict | None = None):
        if isinstance(errors, str):
            errors = [{"field": None, "code": type(self).__name__, "message": errors}]
        self.errors = errors
        self.extra = extra or {}
        if status is not None:
            self.status = status
        super().__init__("; ".join(f"{e.get('field') or '-'}: {e['message']}" for e in errors))

    def body(self) -> dict:
        return {"errors": self.errors, **self.extra}


def error(field: str | None, code: str, message: str, **more) -> dict:
    return {"field": field, "code": code, "message": message, **more}


class BadRequest(CrmError):
    status = 400


class Unauthorized(CrmError):
    status = 401


class Forbidden(CrmError):
    status = 403


class NotFound(CrmError):
    status = 404


class Conflict(CrmError):
    status = 409


class Invalid(CrmError):
    status = 422


class UriTooLong(CrmError):
    status = 414
