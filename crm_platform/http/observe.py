"""What an operator sees of requests: a request id on every answer and log line, JSON access logs, metrics.

- Every request gets an id: the caller's ``X-Request-ID`` when it is a plausible one (a proxy's), else
  a new one; it is echoed in the answer's ``X-Request-ID`` and carried by every log line of the request.
- With ``CRM_LOG_FORMAT=json`` each request is logged as one JSON line (``crm.access``).
- With ``CRM_METRICS_TOKEN`` set, ``GET /metrics`` (Prometheus text format, ``Authorization: Bearer
  <token>``) counts requests and their latency per route and status, and reports the outbox: deliveries
  waiting and failed. Under gunicorn the workers' figures are summed (prometheus_client's multiprocess
  mode; `crm serve` prepares its directory). Without the token there is no ``/metrics`` and no cost.
"""
from __future__ import annotations

import hmac
import logging
import os
import re
import time
import uuid

from flask import Response, current_app, g, request

access_log = logging.getLogger("crm.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id() -> str | None:
    try:
        return g.get("request_id")
    except RuntimeError:  # outside a request (the worker, the CLI)
        return None


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (None outside a request)."""

    def filter(self, record):
        record.request_id = request_id()
        return True


def _start():
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
    g.started = time.perf_counter()


def _finish(response):
    response.headers["X-Request-ID"] = g.get("request_id") or ""
    started = g.get("started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    metrics = current_app.extensions.get("crm_metrics")
    if metrics is not None and route != "/metrics":
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(seconds)
    if access_log.isEnabledFor(logging.INFO):
        user = g.get("user")
        access_log.info("%s %s %s", request.method, request.path, response.status_code, extra={
            "method": request.method, "path": request.path, "route": route, "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2), "user": getattr(user, "username", None),
            "remote_addr": request.remote_addr})
    return response


class Metrics:
    def __init__(self):
        from prometheus_client import Counter, Histogram
        self.requests = Counter("crm_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
        self.latency = Histogram("crm_http_request_seconds", "Time to answer an HTTP request", ["method", "route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class OutboxCollector:
    """The outbox's depth and failures, read from the database at scrape time (the same for every worker)."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        import sqlalchemy as sa
        from prometheus_client.core import GaugeMetricFamily
        from ..tables import outbox
        with self.engine.connect() as conn:
            counts = dict(conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)).all())
        waiting = GaugeMetricFamily("crm_outbox_waiting", "E-mails and webhooks waiting to be sent")
        waiting.add_metric([], counts.get("pending", 0) + counts.get("sending", 0))
        failed = GaugeMetricFamily("crm_outbox_failed", "Deliveries kept as failed after their last retry")
        failed.add_metric([], counts.get("failed", 0))
        yield waiting
        yield failed


def metrics_view():
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    token = current_app.config.get("CRM_METRICS_TOKEN") or ""
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return Response("metrics need Authorization: Bearer <CRM_METRICS_TOKEN>\n", 401, mimetype="text/plain")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY
        registry = REGISTRY
    body = generate_latest(registry)
    outbox_registry = CollectorRegistry()
    outbox_registry.register(OutboxCollector(current_app.extensions["crm"].engine))
    return Response(body + generate_latest(outbox_registry), mimetype=CONTENT_TYPE_LATEST)


def init_observability(app) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, _start)  # first, so even a refusal has an id
    app.after_request(_finish)
    if app.config.get("CRM_METRICS_TOKEN"):
        # One set of metric objects per process (prometheus_client's registry is global).
        global _METRICS
        if _METRICS is None:
            _METRICS = Metrics()
        app.extensions["crm_metrics"] = _METRICS
        app.add_url_rule("/metrics", "metrics", metrics_view)


_METRICS: Metrics | None = None
