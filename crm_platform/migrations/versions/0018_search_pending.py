"""Search: records written by a large batch wait here to be indexed (``runtime/search.py``), so that a
bulk create or an import is not slowed fourfold by the search index's upkeep.

Revision ID: 0018_search_pending
Revises: 0017_audit_reason_key
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_search_pending"
down_revision = "0017_audit_reason_key"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("crm_search_pending",
                    sa.Column("entity", sa.String(64), primary_key=True),
                    sa.Column("record_id", sa.BigInteger, primary_key=True))


def downgrade():
    op.drop_table("crm_search_pending")
