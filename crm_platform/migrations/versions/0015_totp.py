"""Users: an optional TOTP second factor (its secret once confirmed, and the last time step used).

Revision ID: 0015_totp
Revises: 0014_approvals
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_totp"
down_revision = "0014_approvals"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("crm_user", sa.Column("totp_secret", sa.String(64), nullable=True))
    op.add_column("crm_user", sa.Column("totp_last_step", sa.BigInteger, nullable=True))


def downgrade():
    with op.batch_alter_table("crm_user") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
