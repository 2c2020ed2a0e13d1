"""Logging for `crm serve` and `crm worker`: plain lines, or JSON lines with ``CRM_LOG_FORMAT=json``."""
from __future__ import annotations

import datetime as dt
import json
import logging

#: LogRecord attributes that are not extra fields worth a key of their own.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat().replace("+00:00", "Z"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(fmt: str | None) -> None:
    """Send INFO and above to stderr, as JSON lines when ``fmt`` is ``json``."""
    from .http.observe import RequestIdFilter
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # Alembic announces each of its plugins at INFO whenever run-time DDL is prepared: noise to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
