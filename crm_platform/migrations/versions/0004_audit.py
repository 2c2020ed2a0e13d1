"""Audit trail: who changed which record, when, which fields (old and new values) and why.

Revision ID: 0004_audit
Revises: 0003_users
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0004_audit"
down_revision = "0003_users"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("changes", sa.Text, nullable=False),
    )
    op.create_index("ix_crm_audit_entity_record", "crm_audit", ["entity", "record_id"])


def downgrade():
    op.drop_index("ix_crm_audit_entity_record", table_name="crm_audit")
    op.drop_table("crm_audit")
