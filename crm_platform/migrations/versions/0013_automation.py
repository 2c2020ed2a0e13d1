"""Automation rules: the run log, the occurrences time triggers acted on, round-robin cursors.

Revision ID: 0013_automation
Revises: 0012_import_resume
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0013_automation"
down_revision = "0012_import_resume"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_automation_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("automation", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("trigger", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actions", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_crm_automation_run_key", "crm_automation_run", ["automation", "id"])
    op.create_table(
        "crm_automation_fired",
        sa.Column("automation", sa.String(64), primary_key=True),
        sa.Column("record_id", sa.BigInteger, primary_key=True),
        sa.Column("occurrence", sa.String(100), primary_key=True),
        sa.Column("fired_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "crm_automation_cursor",
        sa.Column("automation", sa.String(64), primary_key=True),
        sa.Column("action", sa.Integer, primary_key=True),
        sa.Column("last_user_id", sa.Integer, nullable=True),
    )


def downgrade():
    op.drop_table("crm_automation_cursor")
    op.drop_table("crm_automation_fired")
    op.drop_table("crm_automation_run")
