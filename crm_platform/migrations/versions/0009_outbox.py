"""The outbox: e-mails and webhooks written with the change that asks for them, sent by `crm worker`.

Revision ID: 0009_outbox
Revises: 0008_periodic_jobs
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0009_outbox"
down_revision = "0008_periodic_jobs"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("origin", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_crm_outbox_status_next", "crm_outbox", ["status", "next_attempt_at"])


def downgrade():
    op.drop_table("crm_outbox")
