"""Periodic jobs: when each of `crm worker`'s periodic jobs last ran, and what it did.

Revision ID: 0008_periodic_jobs
Revises: 0007_username_key
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0008_periodic_jobs"
down_revision = "0007_username_key"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_periodic_job",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_run_at", UTCDateTime, nullable=True),
        sa.Column("last_result", sa.Text, nullable=True),
    )


def downgrade():
    op.drop_table("crm_periodic_job")
