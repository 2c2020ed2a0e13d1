"""Audit rows: a reason the system writes (an approval step) as a message key and its arguments,
so that the screens say it in the reader's language (``runtime/audit.Reason``, docs/approvals.md).

Revision ID: 0017_audit_reason_key
Revises: 0016_search_views
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_audit_reason_key"
down_revision = "0016_search_views"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("crm_audit", sa.Column("reason_key", sa.String(64), nullable=True))
    op.add_column("crm_audit", sa.Column("reason_args", sa.Text, nullable=True))


def downgrade():
    with op.batch_alter_table("crm_audit") as batch:
        batch.drop_column("reason_args")
        batch.drop_column("reason_key")
