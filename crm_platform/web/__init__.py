"""Generated screens for end users (lists, record pages and forms, kanban boards) and public web forms."""
from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from . import board  # noqa: F401 - importing it adds the board's routes to the screens blueprint
    from . import home  # noqa: F401 - the home page: dashboard, my work, entities
    from . import reports_screen  # noqa: F401 - the report builder and saved reports (/app/_reports)
    from . import record_tools  # noqa: F401 - and the export, duplicates and merge routes
    from . import imports  # noqa: F401 - and the import page's
    from . import notifications_screen  # noqa: F401 - the bell's page, on the screens blueprint
    from . import search_screen  # noqa: F401 - the top bar's search results (/app/_search)
    from . import list_tools  # noqa: F401 - saved views and bulk actions of the lists
    from . import personal_data_screen  # noqa: F401 - the record page's export and erase of personal data
    from . import inline_edit  # noqa: F401 - a list cell saved in place
    from . import approvals_screen  # noqa: F401 - my approvals and the approve / reject form
    from .chrome import asset, bell_icon, topbar
    from .control_html import form_sections
    from .public import public_forms
    from .screens import screens
    app.jinja_env.globals["form_sections"] = form_sections
    app.jinja_env.globals["topbar"] = topbar
    app.jinja_env.globals["asset"] = asset
    app.jinja_env.globals["bell_icon"] = bell_icon
    app.register_blueprint(screens)
    app.register_blueprint(public_forms)
