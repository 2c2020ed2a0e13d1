"""Imports: saved column mappings per entity and user, and background import jobs.

Revision ID: 0011_imports
Revises: 0010_notifications
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0011_imports"
down_revision = "0010_notifications"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_import_mapping",
        sa.Column("entity", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, primary_key=True),
        sa.Column("mapping", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "crm_import_job",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=True),
        sa.Column("processed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )


def downgrade():
    op.drop_table("crm_import_job")
    op.drop_table("crm_import_mapping")
