"""Users: a unique key of the normalised, case-folded name, so ``Admin`` and ``ａｄｍｉｎ`` are ``admin``.

Revision ID: 0007_username_key
Revises: 0006_session_generation

Existing users keep their names and keep signing in. Where names stored earlier already share a
key (``Admin`` beside ``admin``), the oldest user takes the key and the others keep none: they still
sign in by their exact name, and no new user can take any of those names.
"""
import sqlalchemy as sa
from alembic import op

from crm_platform.auth.names import KEY_MAX, username_key

revision = "0007_username_key"
down_revision = "0006_session_generation"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("crm_user", sa.Column("username_key", sa.String(KEY_MAX), nullable=True))
    conn = op.get_bind()
    users = sa.table("crm_user", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("username_key", sa.String))
    taken = set()
    for user_id, name in conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all():
        key = username_key(name)[:KEY_MAX]
        if key in taken:
            continue
        taken.add(key)
        conn.execute(users.update().where(users.c.id == user_id).values(username_key=key))
    op.create_index("ix_crm_user_username_key", "crm_user", ["username_key"], unique=True)


def downgrade():
    op.drop_index("ix_crm_user_username_key", table_name="crm_user")
    with op.batch_alter_table("crm_user") as batch:
        batch.drop_column("username_key")
