"""In-app notifications: the bell's reminders and messages, read or unread, per user.

Revision ID: 0010_notifications
Revises: 0009_outbox
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0010_notifications"
down_revision = "0009_outbox"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_notification",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("entity", sa.String(64), nullable=True),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=True),
        sa.Column("dedupe", sa.String(255), nullable=True),
        sa.UniqueConstraint("user_id", "dedupe", name="uq_crm_notification_user_dedupe"),
    )
    op.create_index("ix_crm_notification_user_read", "crm_notification", ["user_id", "read_at"])


def downgrade():
    op.drop_table("crm_notification")
