"""/healthz answers without the database; /readyz checks the database and the queue, 503 naming what failed."""
import pytest
import sqlalchemy as sa

from conftest import HAS_PG, make_app


def test_health_and_readiness_without_signing_in(database_url, tmp_path):
    app = make_app(database_url, signed_in=False)
    app.config["CRM_QUEUE_URL"] = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ready", "database": "ok", "queue": "ok", "queue_length": 0}
    app.extensions["crm"].engine.dispose()


def test_not_ready_names_what_failed(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'crm.sqlite'}", signed_in=False)
    app.config["CRM_QUEUE_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with app.extensions["crm"].engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM crm_meta_state"))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # alive all the same
    r = client.get("/readyz")
    assert r.status_code == 503
    body = r.get_json()
    assert body["status"] == "not ready"
    assert body["database"] == "no metadata revision: run `crm init`"
    assert body["queue"].startswith("unreachable: ")


@pytest.mark.postgres
@pytest.mark.skipif(not HAS_PG, reason="DATABASE_URL names no PostgreSQL database")
def test_connections_the_server_dropped_cost_no_request(pg_database):
    """The pool does not ping before each use (a round trip per checkout); when the server drops
    its connections (a restart, an administrator's pg_terminate_backend), the next request's first
    read discards them and every page and API call answers as before."""
    from conftest import _reset_pg
    from test_screens import Pages
    _reset_pg(pg_database)
    app = make_app(pg_database)
    api = app.test_client()
    assert api.post("/api/meta/entities", json={"key": "lead", "label": "Lead", "fields": [{"key": "name", "type": "text", "label": "Name"}]}).status_code == 201
    pages = Pages(app)
    for _ in range(3):  # several pooled connections in use
        assert api.post("/api/records/lead", json={"name": "Li"}).status_code == 201
        assert pages.get("/app/lead").status_code == 200
    killer = sa.create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with killer.connect() as conn:
        dropped = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    killer.dispose()
    assert dropped >= 1
    assert pages.get("/app/lead").status_code == 200
    assert api.get("/api/records/lead").get_json()["total"] == 3
    assert api.post("/api/records/lead", json={"name": "Wang"}).status_code == 201
    app.extensions["crm"].engine.dispose()
