"""The admin designer and data views, on Flask-Admin, under ``/admin``.

Everything here calls the core: definition changes go through ``MetadataService`` (always a dry
run first, shown to the admin as a plan, then applied on confirmation), record changes through
``RecordService``. Nothing is registered per entity: the data view takes the entity from the URL,
so an entity designed a minute ago is browsable without a restart.
"""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_admin import Admin

from .entities import EntityDesignerView
from .forms_designer import FormDesignerView
from .history import HistoryView
from .home import HomeView
from .pipelines import PipelineDesignerView
from .records import RecordView
from .taxonomies import TaxonomyDesignerView


def init_admin(app: Flask) -> Admin:
    # Our own templates and the small designer script; Flask-Admin brings Bootstrap and jQuery.
    app.register_blueprint(Blueprint("crm_admin_assets", __name__, template_folder="templates",
                                     static_folder="static", static_url_path="/admin/assets"))
    admin = Admin(app, name="CRM designer", index_view=HomeView(name="Home", url="/admin", endpoint="admin"))
    admin.add_view(EntityDesignerView(name="Entities", endpoint="entities", url="/admin/entities"))
    admin.add_view(TaxonomyDesignerView(name="Taxonomies", endpoint="taxonomies", url="/admin/taxonomies"))
    admin.add_view(PipelineDesignerView(name="Pipelines", endpoint="pipelines", url="/admin/pipelines"))
    admin.add_view(FormDesignerView(name="Forms", endpoint="forms", url="/admin/forms"))
    admin.add_view(HistoryView(name="History", endpoint="history", url="/admin/history"))
    admin.add_view(RecordView())
    return admin
