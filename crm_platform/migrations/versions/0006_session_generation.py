"""Users: a session generation, so signing out and changing a password end browser sessions.

Revision ID: 0006_session_generation
Revises: 0005_bundles
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_session_generation"
down_revision = "0005_bundles"
branch_labels = None
depends_on = None


def upgrade():
    # Sessions signed before this column existed carry no generation and end once (one more sign-in).
    op.add_column("crm_user", sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("crm_user") as batch:
        batch.drop_column("session_generation")
