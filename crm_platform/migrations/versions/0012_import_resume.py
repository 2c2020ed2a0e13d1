"""Imports resumed after a crash: a running job's heartbeat and the report of its committed rows.

Revision ID: 0012_import_resume
Revises: 0011_imports
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0012_import_resume"
down_revision = "0011_imports"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("crm_import_job", sa.Column("heartbeat_at", UTCDateTime, nullable=True))
    op.add_column("crm_import_job", sa.Column("partial", sa.Text, nullable=True))


def downgrade():
    with op.batch_alter_table("crm_import_job") as batch:
        batch.drop_column("partial")
        batch.drop_column("heartbeat_at")
