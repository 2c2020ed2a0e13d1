"""The Flask application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.json.provider import JSONProvider

from . import jsonutil
from .config import load_settings
from .db import create_engine
from .metadata.service import MetadataService
from .runtime.compiled import Runtime
from .runtime.ddl import apply_plan
from .runtime.probe import DatabaseProbe
from .runtime.records import RecordService


class ExactJSONProvider(JSONProvider):
    """JSON with exact decimals and ISO 8601 datetimes, for every response the app writes."""

    def dumps(self, obj, **kwargs):
        return jsonutil.dumps(obj, sort_keys=kwargs.get("sort_keys", False))

    def loads(self, s, **kwargs):
        return jsonutil.loads(s)


class Platform:
    """The services one app instance uses; reachable as ``current_app.extensions['crm']``."""

    def __init__(self, engine):
        self.engine = engine
        self.runtime = Runtime(engine)
        self.metadata = MetadataService(engine, apply_plan=apply_plan, probe=DatabaseProbe,
                                        on_change=self.runtime.invalidate)
        self.records = RecordService(self.runtime)
        from .auth.users import UserService
        self.users = UserService(engine)
        # The record service's write hooks, each ``hook(conn, batch)``, run in this order. Audit
        # comes last, so it records what the hooks before it let through.
        from .runtime import audit, computed, pipelines, search, tag_rules
        from .runtime.automation.engine import Automations
        self.records.before_write += [pipelines.before_write, audit.before_write]
        # Roll-ups first: the rules, pipelines and audit that follow see the parents' new figures.
        # Automation rules after tags and stage moves (their conditions may test both), before the audit.
        self.automations = Automations(self.records)
        self.records.after_write += [computed.after_write, tag_rules.after_write, pipelines.AfterWrite(self.records),
                                     search.after_write, self.automations, audit.after_write]


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(Path.cwd() / "instance"), instance_relative_config=True)
    app.json_provider_class = ExactJSONProvider
    app.json = ExactJSONProvider(app)
    app.config.update(load_settings(Path(app.instance_path), config))
    if app.config.get("CRM_PROXIES"):
        # Behind N trusted proxies the client is the one they name, not the proxy (docs/deploy.md).
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = app.config["CRM_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    engine = create_engine(app.config["DATABASE_URL"])
    app.extensions["crm"] = Platform(engine)

    from .auth.web import init_auth
    from .http.request_input import init_request_input, register_converters
    from .api import register_api
    register_converters(app)
    init_auth(app)
    from .web.pages import refusal_page
    init_request_input(app, refusal_page)
    register_api(app)
    from .http.health import health  # /healthz and /readyz, for load balancers
    app.register_blueprint(health)
    from .http.observe import init_observability  # request ids, access logs, /metrics
    init_observability(app)
    from .web import register_web  # generated screens (/app) and public web forms (/f/<slug>)
    register_web(app)
    from admin import init_admin  # the Flask-Admin designer and data views under /admin
    init_admin(app)
    return app
