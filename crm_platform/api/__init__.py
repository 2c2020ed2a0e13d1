"""The REST API: generic routes that take the entity from the URL (nothing is registered per entity)."""
from __future__ import annotations

from flask import Flask

from .definitions_api import definitions_api
from ..http.errors import register_error_handlers
from .meta_api import meta_api
from .openapi import openapi_api
from .record_tools_api import record_tools_api
from .records_api import records_api


def register_api(app: Flask) -> None:
    app.register_blueprint(meta_api)
    app.register_blueprint(definitions_api)
    app.register_blueprint(records_api)
    app.register_blueprint(record_tools_api)
    app.register_blueprint(openapi_api)
    from .pipelines_api import pipelines_api
    app.register_blueprint(pipelines_api)
    from .audit_api import audit_api
    app.register_blueprint(audit_api)
    from .bundle_api import bundle_api
    app.register_blueprint(bundle_api)
    from .users_api import users_api
    app.register_blueprint(users_api)
    from .import_api import register as register_imports
    register_imports(app)
    from .notifications_api import notifications_api
    app.register_blueprint(notifications_api)
    from .reports_api import reports_api
    app.register_blueprint(reports_api)
    from .bulk_api import bulk_api
    app.register_blueprint(bulk_api)
    from .search_api import search_api
    app.register_blueprint(search_api)
    from .views_api import views_api
    app.register_blueprint(views_api)
    from .automations_api import automations_api
    app.register_blueprint(automations_api)
    from .personal_data_api import personal_data_api
    app.register_blueprint(personal_data_api)
    from .timeline_api import timeline_api
    app.register_blueprint(timeline_api)
    from .approvals_api import approvals_api
    app.register_blueprint(approvals_api)
    register_error_handlers(app)
