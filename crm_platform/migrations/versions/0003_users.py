"""Users and API tokens.

Revision ID: 0003_users
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0003_users"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_user",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("roles", sa.Text, nullable=False, server_default="[]"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "crm_api_token",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("crm_user.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )


def downgrade():
    op.drop_table("crm_api_token")
    op.drop_table("crm_user")
