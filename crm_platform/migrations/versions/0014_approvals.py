"""Approvals of pipeline moves into stages that ask for one.

Revision ID: 0014_approvals
Revises: 0013_automation
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0014_approvals"
# 0013_automation came from another branch; merged after this one, it points this file at itself.
down_revision = "0013_automation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_approval",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("from_stage", sa.String(64), nullable=True),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approver_role", sa.String(64), nullable=True),
        sa.Column("approver_id", sa.Integer, nullable=True),
        sa.Column("requested_by", sa.Integer, nullable=True),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decided_by", sa.Integer, nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_crm_approval_entity_record", "crm_approval", ["entity", "record_id"])
    op.create_index("ix_crm_approval_status", "crm_approval", ["status", "approver_role", "approver_id"])


def downgrade():
    op.drop_index("ix_crm_approval_status", "crm_approval")
    op.drop_index("ix_crm_approval_entity_record", "crm_approval")
    op.drop_table("crm_approval")
