"""Bundles: what each installed bundle (template or imported configuration) put into the instance.

Revision ID: 0005_bundles
Revises: 0004_audit
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0005_bundles"
down_revision = "0004_audit"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "crm_bundle",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("installed_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("sample_data_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "crm_bundle_definition",
        sa.Column("bundle", sa.String(64), sa.ForeignKey("crm_bundle.name", ondelete="CASCADE",
                                                         name="fk_crm_bundle_definition_bundle"), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("checksum", sa.String(80), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )


def downgrade():
    op.drop_table("crm_bundle_definition")
    op.drop_table("crm_bundle")
