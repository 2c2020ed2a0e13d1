"""Uploaded files (imports): a larger body limit for upload paths, and the posted file itself.

Shared by the API (``POST /api/records/<entity>/import``) and the screens (``/app/<entity>/import``).
"""
from __future__ import annotations

from flask import current_app, request

from ..errors import BadRequest, CrmError, error


class TooLarge(CrmError):
    status = 413


def upload_limit() -> int:
    return current_app.config["CRM_IMPORT_MAX_BYTES"]


def is_upload_path(path: str) -> bool:
    return path.endswith("/import") and (path.startswith("/api/records/") or path.startswith("/app/"))


def allow_large_uploads():
    """before_request, first of all: import uploads may be larger than other bodies (CSRF and input
    checks read the form before any view runs)."""
    if request.method == "POST" and is_upload_path(request.path):
        limit = upload_limit()
        if request.content_length is not None and request.content_length > limit:
            raise TooLarge([error("file", "too_large", f"the file is larger than the import limit of "
                                                       f"{limit // (1024 * 1024)} MiB ({limit} bytes, "
                                                       f"CRM_IMPORT_MAX_BYTES); split it and import the parts")])
        request.max_content_length = limit


def uploaded() -> tuple[bytes, str]:
    """The bytes and name of the posted ``file``; 400 naming ``file`` when there is none."""
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        raise BadRequest([error("file", "required", "send the file as multipart/form-data field 'file'")])
    data = sent.read()
    if len(data) > upload_limit():  # a body sent without Content-Length
        raise TooLarge([error("file", "too_large", f"the file is larger than the import limit of {upload_limit()} bytes")])
    return data, sent.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
