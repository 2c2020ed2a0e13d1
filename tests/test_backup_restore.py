"""`crm backup` / `crm restore`: a restore drill on a live instance taking writes while it is backed up.

The B2B template with its sample data is backed up while a writer keeps creating tasks; the backup is
restored into a new, empty database and compared with the source: the configuration bundle byte for
byte, every table the writer did not touch row for row (a checksum), and for the tasks a consistent
snapshot — exactly the first k acknowledged writes, each with its audit row, nothing half-written.
"""
import hashlib
import json
import threading
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crm_platform.cli import main
from crm_platform.config import normalise_database_url
from conftest import PG_URL, make_app


def checksum(engine, table: str) -> str:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT * FROM "{table}" ORDER BY 1')).all()
    return hashlib.sha256(json.dumps([list(r) for r in rows], default=str).encode()).hexdigest()


@pytest.fixture
def empty_database(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    admin = sa.create_engine(normalise_database_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"crm_restore_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(normalise_database_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def cli(monkeypatch, tmp_path, url, *args):
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(main, list(args))


def test_a_backup_taken_under_writes_restores_into_an_empty_database(app, client, platform, database_url,
                                                                     empty_database, monkeypatch, tmp_path):
    r = client.post("/api/bundle/templates/b2b/install?sample_data=1")
    assert r.status_code == 200, r.get_json()
    acknowledged, stop = [], threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            n += 1
            record = platform.records.create("task", {"content": f"follow-up {n}", "status": "open"})
            acknowledged.append(record["id"])

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acknowledged) < 5:  # the backup starts with writes already flowing
            stop.wait(0.01)
        result = cli(monkeypatch, tmp_path, database_url, "backup", "-o", str(tmp_path / "drill.tar.gz"))
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"backup written: {tmp_path / 'drill.tar.gz'} ")

    restored = cli(monkeypatch, tmp_path, empty_database, "restore", str(tmp_path / "drill.tar.gz"))
    assert restored.exit_code == 0, restored.output
    target_app = make_app(empty_database)
    target = target_app.extensions["crm"]
    try:
        # The configuration, byte for byte.
        assert target_app.test_client().get("/api/bundle").data == client.get("/api/bundle").data
        # Every table the writer left alone, row for row.
        with platform.engine.connect() as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
        task_table = platform.runtime.current().entities["task"].table.name
        # (The search index, crm_search and SQLite's FTS tables over it, follows the writer's tasks too.)
        untouched = [t for t in tables if t not in (task_table, "crm_audit", "crm_api_token")
                     and not t.startswith("crm_search")]
        assert {t: checksum(target.engine, t) for t in untouched} == {t: checksum(platform.engine, t) for t in untouched}
        # The tasks: a consistent snapshot of the acknowledged writes, each with its audit row.
        with target.engine.connect() as conn:
            sample_tasks = conn.execute(sa.text(f'SELECT count(*) FROM "{task_table}" WHERE id < :first'),
                                        {"first": acknowledged[0]}).scalar_one()
            ids = list(conn.execute(sa.text(f'SELECT id FROM "{task_table}" WHERE id >= :first ORDER BY id'),
                                    {"first": acknowledged[0]}).scalars())
            audited = set(conn.execute(sa.text("SELECT record_id FROM crm_audit WHERE entity = 'task' AND action = 'create'"))
                          .scalars())
        assert 5 <= len(ids) <= len(acknowledged)
        assert ids == acknowledged[:len(ids)]
        assert set(ids) <= audited and len(audited) == sample_tasks + len(ids)
    finally:
        target.engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty_and_a_file_that_is_no_backup(app, database_url, monkeypatch,
                                                                                  tmp_path):
    cli(monkeypatch, tmp_path, database_url, "backup", "-o", str(tmp_path / "b.tar.gz"))
    again = cli(monkeypatch, tmp_path, database_url, "restore", str(tmp_path / "b.tar.gz"))
    assert again.exit_code == 1
    assert "the database is not empty: restore into a new, empty database" in again.output
    (tmp_path / "junk.tar.gz").write_bytes(b"not a backup")
    junk = cli(monkeypatch, tmp_path, database_url, "restore", str(tmp_path / "junk.tar.gz"))
    assert junk.exit_code == 1 and "not a CRM backup" in junk.output
