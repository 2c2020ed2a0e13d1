"""The admin designer and data views, on Flask-Admin, under ``/admin``.

Everything here calls the core: definition changes go through ``MetadataService`` (always a dry
run first, shown to the admin as a plan, then applied on confirmation), record changes through
``RecordService``. Nothing is registered per entity: the data view takes the entity from the URL,
so an entity designed a minute ago is browsable without a restart.
"""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_admin.menu import MenuLink

from .automations import AutomationView
from .entities import EntityDesignerView
from .forms_designer import FormDesignerView
from .history import HistoryView
from .bundles import BundlesView
from .home import HomeView
from .i18n import init_babel, lazy
from .pipelines import PipelineDesignerView
from .records import RecordView
from .roles import RoleDesignerView
from .taxonomies import TaxonomyDesignerView
from .users import UsersView


def init_admin(app: Flask) -> Admin:
    # Our own templates and the small designer script; Flask-Admin brings Bootstrap and jQuery.
    app.register_blueprint(Blueprint("crm_admin_assets", __name__, template_folder="templates",
                                     static_folder="static", static_url_path="/admin/assets"))
    # Flask-Admin's own words (list views, buttons) in the language the screens use; ours are lazy
    # so one menu built at start-up reads in each visitor's language.
    init_babel(app)
    # The screens' menu offers 管理 to those who may design (the same gate as every admin view).
    app.add_template_global(_can_design, "can_design")
    # crm_admin/layout.html: Flask-Admin's layout with the CSS that makes the pages fit a phone.
    admin = Admin(app, name=lazy("admin_name"), theme=Bootstrap4Theme(base_template="crm_admin/layout.html"),
                  index_view=HomeView(name=lazy("menu_home"), url="/admin", endpoint="admin"))
    admin.add_view(EntityDesignerView(name=lazy("menu_entities"), endpoint="entities", url="/admin/entities"))
    admin.add_view(TaxonomyDesignerView(name=lazy("menu_taxonomies"), endpoint="taxonomies", url="/admin/taxonomies"))
    admin.add_view(PipelineDesignerView(name=lazy("menu_pipelines"), endpoint="pipelines", url="/admin/pipelines"))
    admin.add_view(FormDesignerView(name=lazy("menu_forms"), endpoint="forms", url="/admin/forms"))
    admin.add_view(AutomationView(name=lazy("menu_automations"), endpoint="automations", url="/admin/automations"))
    admin.add_view(HistoryView(name=lazy("menu_history"), endpoint="history", url="/admin/history"))
    admin.add_view(UsersView(name=lazy("menu_users"), endpoint="users", url="/admin/users"))
    admin.add_view(RoleDesignerView(name=lazy("menu_roles"), endpoint="roles", url="/admin/roles"))
    admin.add_view(BundlesView(name=lazy("menu_bundles"), endpoint="bundles", url="/admin/bundles"))
    admin.add_view(RecordView())
    # Back to the screens, and the language switch the screens use (one cookie for both).
    admin.add_link(MenuLink(name=lazy("back_to_app"), url="/app", category=None))
    admin.add_link(LanguageLink(name=lazy("language"), url="/app/lang"))
    return admin


def _can_design() -> bool:
    from flask import g

    from crm_platform.http.context import access
    return g.get("user") is not None and access().admin


class LanguageLink(MenuLink):
    """The other language, back to the page it was clicked on (the screens' own switch)."""

    def get_url(self):
        from flask import request, url_for

        from .i18n import language
        return url_for("screens.switch_language", code="en" if language() == "zh" else "zh", next=request.full_path)
