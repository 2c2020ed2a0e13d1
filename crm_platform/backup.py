"""`crm backup` and `crm restore`: the whole instance in one file, taken while the server runs.

A backup is a gzipped tar holding ``manifest.json`` (format, database dialect, when, the metadata
revision and the schema migration it was taken at) and the database: SQLite through its online backup
API (one consistent copy while other connections write), PostgreSQL through ``pg_dump`` in its custom
format (one snapshot). The database holds everything the instance knows — definitions and their
history, records, users and tokens, audit rows, the outbox and the import jobs — and the files it keeps
beside the database (``instance/uploads/``, when present) are added under ``files/``.

A backup restores into a database of the same kind (SQLite into SQLite, PostgreSQL into PostgreSQL)
that holds no instance yet; moving between the two is what bundles are for (docs/bundles.md).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import sqlalchemy as sa

from .clock import utcnow

FORMAT = "crm-backup"
FORMAT_VERSION = 1
#: Directories under the instance folder that hold files the database refers to.
FILE_DIRS = ("uploads",)


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason in words."""


def _sqlite_path(engine: sa.Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(database)


def _pg_command(engine: sa.Engine, program: str, *args: str) -> tuple[list[str], dict]:
    if shutil.which(program) is None:
        raise BackupError(f"{program} is not installed (Debian: apt-get install postgresql-client)")
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password  # not on the command line, where ps would show it
    command = [program, "-h", url.host or "localhost", "-p", str(url.port or 5432), "-U", url.username or "postgres",
               "-d", url.database or "postgres", *args]
    return command, env


def _revisions(engine: sa.Engine) -> tuple[int | None, str | None]:
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        revision = conn.exec_driver_sql("SELECT revision FROM crm_meta_state").scalar() if "crm_meta_state" in names else None
        migration = conn.exec_driver_sql("SELECT version_num FROM crm_alembic_version").scalar() if "crm_alembic_version" in names else None
    return revision, migration


def backup(engine: sa.Engine, out: Path, instance_path: Path) -> dict:
    """Write a backup of the instance to ``out``; its manifest."""
    revision, migration = _revisions(engine)
    if migration is None:
        raise BackupError("this database holds no CRM instance (run `crm init` first)")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        if engine.dialect.name == "sqlite":
            dump = work / "database.sqlite"
            source = sqlite3.connect(str(_sqlite_path(engine)))
            target = sqlite3.connect(str(dump))
            try:
                source.backup(target)  # one step: a consistent copy while others write
            finally:
                target.close()
                source.close()
        else:
            dump = work / "database.pgdump"
            command, env = _pg_command(engine, "pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                                       "-f", str(dump))
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        files = [p for d in FILE_DIRS if (instance_path / d).is_dir() for p in sorted((instance_path / d).rglob("*"))
                 if p.is_file()]
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "dialect": engine.dialect.name,
            "created_at": utcnow().isoformat().replace("+00:00", "Z"),
            "metadata_revision": revision, "migration": migration, "database": dump.name,
            "files": [str(p.relative_to(instance_path)) for p in files],
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")  # never leave a half-written backup under its name
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(dump, arcname=dump.name)
            for p in files:
                tar.add(p, arcname=f"files/{p.relative_to(instance_path)}")
        partial.replace(out)
    return manifest


def _read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        manifest = json.load(tar.extractfile("manifest.json"))
    except (KeyError, ValueError) as exc:
        raise BackupError("not a CRM backup: it has no readable manifest.json") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"not a CRM backup of format version {FORMAT_VERSION}")
    return manifest


def restore(engine: sa.Engine, source: Path, instance_path: Path) -> dict:
    """Restore the backup ``source`` into the empty database of ``engine``; the backup's manifest."""
    try:
        tar = tarfile.open(source, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"not a CRM backup: {exc}") from exc
    with tar, tempfile.TemporaryDirectory() as work:
        manifest = _read_manifest(tar)
        if manifest["dialect"] != engine.dialect.name:
            raise BackupError(f"this is a {manifest['dialect']} backup and the database is {engine.dialect.name}: "
                              "a backup restores into the same kind of database (move between them with a bundle)")
        with engine.connect() as conn:
            if sa.inspect(conn).get_table_names():
                raise BackupError("the database is not empty: restore into a new, empty database")
        tar.extractall(work, filter="data")
        dump = Path(work) / manifest["database"]
        if engine.dialect.name == "sqlite":
            engine.dispose()
            source_db = sqlite3.connect(str(dump))
            target = sqlite3.connect(str(_sqlite_path(engine)))
            try:
                source_db.backup(target)
            finally:
                target.close()
                source_db.close()
        else:
            command, env = _pg_command(engine, "pg_restore", "--no-owner", "--no-privileges", "--single-transaction",
                                       "--exit-on-error", str(dump))
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode:
                raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
        for name in manifest["files"]:
            target_file = instance_path / name
            target_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(work) / "files" / name, target_file)
    return manifest
