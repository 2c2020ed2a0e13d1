"""GET of one record reads the metadata revision in the same statement as the record.

That fast path may only answer with the model of the revision it read; whenever this process's
model is stale (another instance renamed, retyped or archived something), the answer must be the
one the ordinary path gives: the current keys and values, or 404.
"""
from __future__ import annotations

from conftest import make_app


def test_reads_follow_changes_made_by_another_instance(database_url):
    first, second = make_app(database_url), make_app(database_url)
    a, b = first.test_client(), second.test_client()
    try:
        entity = {"key": "deal", "label": "Deal", "fields": [
            {"key": "name", "type": "text"}, {"key": "amount", "type": "decimal"},
            {"key": "closed_at", "type": "datetime"}, {"key": "size", "type": "integer"}]}
        assert a.post("/api/meta/entities", json=entity).status_code == 201
        r = a.post("/api/records/deal", json={"name": "Big", "amount": 12.5, "closed_at": "2024-05-01T09:30:00+08:00",
                                              "size": 7})
        assert r.status_code == 201, r.get_json()
        url = f"/api/records/deal/{r.get_json()['id']}"
        first_body = a.get(url).get_json()  # a's model is now compiled and cached
        assert first_body["amount"] == 12.5 and first_body["closed_at"] == "2024-05-01T01:30:00Z"

        # b renames a column: a's cached statement names a column that no longer exists.
        assert b.post("/api/meta/entities/deal/fields/name/rename", json={"new_key": "title"}).status_code == 200
        got = a.get(url).get_json()
        assert got["title"] == "Big" and "name" not in got

        # b retypes columns: a's cached result types no longer fit what is stored.
        for key in ("amount", "closed_at", "size"):
            assert b.patch(f"/api/meta/entities/deal/fields/{key}", json={"type": "text"}).status_code == 200
        got = a.get(url).get_json()
        assert (got["amount"], got["closed_at"], got["size"]) == ("12.50", "2024-05-01T01:30:00Z", "7")

        # b archives a field, then the entity.
        assert b.delete("/api/meta/entities/deal/fields/size").status_code == 200
        assert "size" not in a.get(url).get_json()
        assert a.get("/api/records/deal/999999").status_code == 404
        assert b.delete("/api/meta/entities/deal").status_code == 200
        assert a.get(url).status_code == 404
    finally:
        for app in (first, second):
            app.extensions["crm"].engine.dispose()
