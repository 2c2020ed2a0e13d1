"""Stage history: every move of a record between the stages of a pipeline.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_stage_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("from_stage", sa.String(64), nullable=True),
        sa.Column("to_stage", sa.String(64), nullable=False),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("moved_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_crm_stage_history_entity_record", "crm_stage_history", ["entity", "record_id"])
    op.create_index("ix_crm_stage_history_pipeline_to", "crm_stage_history", ["pipeline", "to_stage"])


def downgrade():
    op.drop_index("ix_crm_stage_history_pipeline_to", table_name="crm_stage_history")
    op.drop_index("ix_crm_stage_history_entity_record", table_name="crm_stage_history")
    op.drop_table("crm_stage_history")
