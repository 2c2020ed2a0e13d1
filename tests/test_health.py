"""/healthz answers without the database; /readyz checks the database and the queue, 503 naming what failed."""
import sqlalchemy as sa

from conftest import make_app


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
