"""What reads keep between requests (list statements, the compiled dumper, the page's tag query)
never shows a user another page, another order, or a stale shape (SQLite and PostgreSQL)."""
from __future__ import annotations

TAXONOMY = {"key": "level", "label": "Level", "tags": [
    {"key": "gold", "label": "Gold"}, {"key": "silver", "label": "Silver"}, {"key": "bronze", "label": "Bronze"}]}


def names(client, query=""):
    r = client.get(f"/api/records/student?{query}")
    assert r.status_code == 200, r.get_json()
    return [x["name"] for x in r.get_json()["items"]]


def test_each_page_and_order_asked_twice_lists_its_own_records(client, student):
    for name, age in (("A", 30), ("B", 10), ("C", 20), ("D", 40)):
        assert client.post("/api/records/student", json={"name": name, "age": age}).status_code == 201
    expected = {
        "": ["D", "C", "B", "A"],
        "sort=age": ["B", "C", "A", "D"],
        "sort=-age": ["D", "A", "C", "B"],
        "per_page=2": ["D", "C"],
        "per_page=2&page=2": ["B", "A"],
        "per_page=2&page=2&sort=age": ["A", "D"],
        "per_page=2&page=2&sort=-age": ["C", "B"],
        "sort=name": ["A", "B", "C", "D"],
    }
    for _ in range(2):
        for query, wanted in expected.items():
            assert names(client, query) == wanted, query
    # A record moved to the recycle bin leaves the (cached) plain list; the bin lists it.
    assert client.delete("/api/records/student/4").status_code == 204
    assert names(client) == ["C", "B", "A"]
    assert names(client, "archived=1") == ["D"]


def test_a_new_field_and_its_tags_appear_on_the_next_read(client, student):
    assert client.post("/api/records/student", json={"name": "A"}).status_code == 201
    assert client.post("/api/records/student", json={"name": "B"}).status_code == 201
    before = client.get("/api/records/student").get_json()["items"]
    assert [sorted(r) for r in before][0] == sorted(["id", "version", "created_at", "updated_at", "created_by",
                                                      "updated_by", "owner_id", "name", "age", "email", "course",
                                                      "enrolled_on"])
    assert client.post("/api/meta/taxonomies", json=TAXONOMY).status_code == 201
    for field in ({"key": "levels", "type": "tags", "taxonomy": "level"},
                  {"key": "level", "type": "tags", "taxonomy": "level", "multiple": False}):
        assert client.post("/api/meta/entities/student/fields", json=field).status_code == 201
    r = client.patch("/api/records/student/1", json={"levels": ["bronze", "gold"], "level": "silver"})
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["levels"], r.get_json()["level"]) == (["gold", "bronze"], "silver")
    page = {x["name"]: x for x in client.get("/api/records/student").get_json()["items"]}
    assert (page["A"]["levels"], page["A"]["level"]) == (["gold", "bronze"], "silver")
    assert (page["B"]["levels"], page["B"]["level"]) == ([], None)
    one = client.get("/api/records/student/1").get_json()
    assert (one["levels"], one["level"]) == (["gold", "bronze"], "silver")
    assert list(one) == list(page["A"])  # same keys in the same order, by id and in a list


def test_a_list_of_some_fields_reads_those_as_the_whole_list_does(app, client, student):
    """``RecordService.list(fields=...)`` (what a list screen reads): the same values for the fields
    asked, tags included when asked, the id, owner and version always, and nothing else; asked
    twice with other fields, its kept statement is not the first one's."""
    assert client.post("/api/meta/taxonomies", json=TAXONOMY).status_code == 201
    field = {"key": "levels", "type": "tags", "taxonomy": "level"}
    assert client.post("/api/meta/entities/student/fields", json=field).status_code == 201
    for name, age in (("A", 30), ("B", 10)):
        assert client.post("/api/records/student", json={"name": name, "age": age, "levels": ["gold"]}).status_code == 201
    svc = app.extensions["crm"].records
    whole = {r["id"]: r for r in svc.list("student")["items"]}
    for fields in (["name"], ["age", "levels"], ["name"], []):
        items = svc.list("student", fields=fields)["items"]
        assert [r["id"] for r in items] == list(whole)
        for r in items:
            assert sorted(r) == sorted({"id", "owner_id", "version", *fields})
            assert r == {k: whole[r["id"]][k] for k in r}
