"""Alembic environment for the platform's own tables (never for generated entity tables)."""
from alembic import context

from crm_platform.tables import platform_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=platform_metadata, render_as_batch=True, version_table="crm_alembic_version")
with context.begin_transaction():
    context.run_migrations()
