"""Global search index, saved list views and each user's last list state.

The search index gets a substring index fitting the database: an FTS5 table with the trigram
tokenizer on SQLite (kept in step by triggers), a pg_trgm GIN index on PostgreSQL when the
extension may be created (without it, search still works by a plain LIKE scan).

Revision ID: 0016_search_views
Revises: 0015_totp
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.sqltypes import UTCDateTime

revision = "0016_search_views"
down_revision = "0015_totp"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    "CREATE VIRTUAL TABLE crm_search_fts USING fts5(text, content='crm_search', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER crm_search_ai AFTER INSERT ON crm_search BEGIN "
    "INSERT INTO crm_search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER crm_search_ad AFTER DELETE ON crm_search BEGIN "
    "INSERT INTO crm_search_fts(crm_search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER crm_search_au AFTER UPDATE ON crm_search BEGIN "
    "INSERT INTO crm_search_fts(crm_search_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO crm_search_fts(rowid, text) VALUES (new.id, new.text); END",
]


def upgrade():
    op.create_table(
        "crm_search",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_crm_search_record", "crm_search", ["entity", "record_id"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            bind.exec_driver_sql(statement)
    elif bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                bind.exec_driver_sql("CREATE INDEX ix_crm_search_trgm ON crm_search USING gin (text gin_trgm_ops)")
        except sa.exc.DBAPIError:
            pass  # no right to create the extension: search scans with LIKE (docs/operations.md)
    op.create_table(
        "crm_saved_view",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_crm_saved_view_entity", "crm_saved_view", ["entity", "user_id"])
    op.create_table(
        "crm_list_state",
        sa.Column("user_id", sa.Integer, primary_key=True),
        sa.Column("entity", sa.String(64), primary_key=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("known", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade():
    op.drop_table("crm_list_state")
    op.drop_table("crm_saved_view")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("crm_search_ai", "crm_search_ad", "crm_search_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS crm_search_fts")
    op.drop_table("crm_search")
