"""Create or upgrade the platform's own tables with Alembic (`crm init`)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine) -> list[str]:
    """Bring the database to the newest revision; the revisions this run applied, oldest first."""
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(cfg, "head")
    script = ScriptDirectory.from_config(cfg)
    return [r.revision for r in reversed(list(script.iterate_revisions("head", before or "base")))]
