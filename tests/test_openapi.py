"""GET /api/openapi.json documents the whole REST API: every /api route the app registers, how to
authenticate, and statuses that agree with what the endpoints really answer."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from conftest import ADMIN_PASSWORD, make_app
from crm_platform.api.openapi import build_openapi

GUARDIAN = {"key": "guardian", "label": "Guardian", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "fee", "type": "decimal", "scale": 2, "min": 0},
    {"key": "vip", "type": "boolean"},
    {"key": "interests", "type": "multi_select", "choices": [{"key": "art", "label": "Art"}]},
    {"key": "child", "type": "reference", "target": "student", "on_delete": "set_null"}]}
METHODS = ("get", "post", "put", "patch", "delete")


def operations(doc: dict):
    """(path, method, operation) of every operation in the document."""
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def shape(path: str) -> str:
    """A path with its parameters unnamed: /api/users/{id} and /api/users/{user_id} are one path."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def documented_forms(rule: str, entities: list[str]) -> list[str]:
    """The OpenAPI paths a Flask rule should appear as: ``<entity>`` and ``<any(a, b):x>`` give one path
    per entity or per choice (the document types each separately), any other ``<conv:x>`` a ``{}``."""
    forms = [rule]
    for match in re.finditer(r"<([^>]+)>", rule):
        spec = match.group(1)
        choices = re.fullmatch(r"any\((.*)\):\w+", spec)
        if choices:
            values = [c.strip() for c in choices.group(1).split(",")]
        elif spec == "entity":
            values = entities
        else:
            values = ["{}"]
        forms = [f.replace(match.group(0), v, 1) for f in forms for v in values]
    return forms


def undocumented(app, doc: dict, entities: list[str]) -> list[str]:
    documented = {(shape(p), m) for p, m, _ in operations(doc)}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule == "/api" or rule.rule.startswith("/api/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                missing += [f"{method} {p}" for p in documented_forms(rule.rule, entities)
                            if (p, method.lower()) not in documented]
    return missing


@pytest.fixture
def two_entities(client, student):
    r = client.post("/api/meta/entities", json=GUARDIAN)
    assert r.status_code == 201, r.get_json()
    return ["guardian", "student"]


def test_every_api_route_and_method_is_documented_and_nothing_else(app, client, two_entities):
    doc = client.get("/api/openapi.json").get_json()
    assert undocumented(app, doc, two_entities) == []
    # ... and every documented operation is a route that exists with that method.
    adapter = app.url_map.bind("localhost")
    for path, method, _ in operations(doc):
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        assert adapter.match(concrete, method=method.upper()), (method, path)
    assert len({o["operationId"] for _, _, o in operations(doc)}) == len(list(operations(doc)))
    # The per-entity record endpoints keep their operation ids.
    ids = {o["operationId"] for _, _, o in operations(doc)}
    assert {"list_student", "create_student", "get_student", "update_student", "delete_student",
            "bulk_create_student", "restore_student", "history_student", "stage_history_student",
            "timeline_student"} <= ids
    # One path per definition kind of the any(...) rule.
    assert {"/api/meta/taxonomies/{key}/restore", "/api/meta/pipelines", "/api/meta/roles/{key}",
            "/api/meta/forms"} <= set(doc["paths"])


def test_a_route_added_without_documentation_is_reported(database_url):
    app = make_app(database_url)
    app.add_url_rule("/api/reports/<int:report_id>/rerun", "rerun", lambda report_id: "", methods=["POST"])
    app.add_url_rule("/api/meta/<any(taxonomies, widgets):plural>", "widgets", lambda plural: "", methods=["PUT"])
    with app.app_context():
        doc = build_openapi(app.extensions["crm"].runtime.current())
    try:
        assert sorted(undocumented(app, doc, [])) == ["POST /api/reports/{}/rerun", "PUT /api/meta/taxonomies",
                                                      "PUT /api/meta/widgets"]
    finally:
        app.extensions["crm"].engine.dispose()


def test_the_document_is_valid_openapi_and_types_each_entity(client, two_entities):
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    assert schemas["guardian"]["required"] == ["name"] and "child" in schemas["guardian"]["properties"]
    bulk = doc["paths"]["/api/records/guardian/bulk"]["post"]
    assert bulk["requestBody"]["content"]["application/json"]["schema"]["properties"]["records"]["items"] == {
        "$ref": "#/components/schemas/guardian.row"}  # a bulk row takes no _reason
    assert "201" in bulk["responses"]
    history = doc["paths"]["/api/records/student/{id}/history"]["get"]["responses"]["200"]
    assert history["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/crm.AuditPage"}
    bundle_import = doc["paths"]["/api/bundle"]["post"]
    assert {p["name"] for p in bundle_import["parameters"]} == {"dry_run", "on_conflict", "sample_data",
                                                                "expect_revision"}
    assert {p["name"] for p in doc["paths"]["/api/bundle"]["get"]["parameters"]} == {"only", "name", "version",
                                                                                     "sample_data"}
    on_conflict = next(p for p in bundle_import["parameters"] if p["name"] == "on_conflict")
    assert on_conflict["schema"]["enum"] == ["keep-local", "take-incoming"]


def test_an_entity_named_like_a_platform_schema_does_not_replace_it(client):
    plan = {"key": "plan", "label": "Plan", "fields": [{"key": "title", "type": "text"}]}
    r = client.post("/api/meta/entities", json=plan)
    assert r.status_code == 201, r.get_json()
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "title" in schemas["plan"]["properties"]
    assert "operations" in schemas["crm.Plan"]["properties"]
    assert "errors" in schemas["crm.Errors"]["properties"]


def test_entities_whose_keys_look_alike_keep_their_own_schemas(client, student):
    for key in ("student_list", "student_patch"):
        r = client.post("/api/meta/entities", json={"key": key, "label": key, "fields": [{"key": "title", "type": "text"}]})
        assert r.status_code == 201, r.get_json()
    doc = client.get("/api/openapi.json").get_json()
    validate(doc)
    schemas = doc["components"]["schemas"]
    assert "title" in schemas["student_list"]["properties"] and "title" in schemas["student_patch"]["properties"]
    assert schemas["student.list"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/student"}
    assert not schemas["student.patch"].get("required")  # a PATCH sends only what changes
    assert "_reason" in schemas["student.new"]["properties"]  # a body may say why
    assert "_reason" in schemas["student.patch"]["properties"] and "_reason" not in schemas["student"]["properties"]


def test_filters_are_documented_as_the_client_sends_them(client, student):
    params = {p["name"]: p for p in client.get("/api/openapi.json").get_json()["paths"]["/api/records/student"]["get"]["parameters"]}
    age = params["filter[age]"]
    assert age["style"] == "deepObject" and age["explode"] is True
    assert {"gte", "lte", "is_empty"} <= set(age["schema"]["properties"])
    # and that is how the API takes it
    client.post("/api/records/student", json={"name": "Li", "age": 9})
    client.post("/api/records/student", json={"name": "Wu", "age": 12})
    r = client.get("/api/records/student?filter[age][gte]=10")
    assert r.status_code == 200 and [x["name"] for x in r.get_json()["items"]] == ["Wu"]


def test_sign_in_needs_no_token_and_everything_else_answers_401_without_one(client, two_entities):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from POST /api/auth/token"}
    token = doc["paths"]["/api/auth/token"]["post"]
    assert token["security"] == []
    assert {"201", "400", "401", "429"} <= set(token["responses"])
    for path, method, operation in operations(doc):
        url = re.sub(r"\{[^}]+\}", "1", path)
        r = client.open(url, method=method.upper(), json={}, headers={"Authorization": None})
        if operation is token:
            assert r.status_code == 400
            continue
        assert "security" not in operation, (method, path)
        assert r.status_code == 401, (method, path, r.status_code)
        assert "401" in operation["responses"], (method, path)
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/crm.Errors"}


def admin_only(path: str, method: str) -> bool:
    return (path.startswith("/api/meta/") and method != "get") or path.startswith(("/api/users", "/api/bundle"))


def test_record_endpoints_list_401_and_403_and_a_user_without_rights_gets_a_documented_403(app, client,
                                                                                          two_entities):
    doc = client.get("/api/openapi.json").get_json()
    record_ops = [(p, m, o) for p, m, o in operations(doc) if p.startswith("/api/records/")]
    assert len(record_ops) == 2 * 17
    for path, method, operation in record_ops:
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
    # Administrators only: definition changes, users, bundles; reading definitions is open to everyone.
    for path, method, operation in operations(doc):
        if admin_only(path, method):
            assert operation["responses"]["403"]["description"].startswith("Only administrators"), (method, path)
        elif path.startswith("/api/meta/"):
            assert "403" not in operation["responses"], (method, path)
    # A signed-in user with no role and no administrator flag: every answer is one the document lists,
    # and what needs rights is refused with 403 (a bulk create without records is refused before that).
    assert client.post("/api/records/student", json={"name": "Ann"}).status_code == 201
    users = app.extensions["crm"].users
    headers = {"Authorization": f"Bearer {users.issue_token(users.create('visitor', 'visitor-password'))}"}
    for path, method, operation in operations(doc):
        r = client.open(re.sub(r"\{[^}]+\}", "1", path), method=method.upper(), json={}, headers=headers)
        assert str(r.status_code) in operation["responses"], (method, path, r.status_code, r.get_json())
        if admin_only(path, method) or (path.startswith("/api/records/") and not path.endswith("/bulk")):
            assert r.status_code == 403, (method, path, r.status_code, r.get_json())


def test_what_the_endpoints_answer_is_what_the_document_says(app, client, two_entities):
    """Each endpoint called as the administrator, the way a client would: the status is documented."""
    seen, doc = set(), {}

    def call(method, url, path, body=None, expect=200, **kw):
        r = client.open(url, method=method, json=body, **kw)
        assert r.status_code == expect, (method, url, r.get_json())
        if path not in doc["paths"]:  # an entity created since
            doc.update(client.get("/api/openapi.json").get_json())
        assert str(expect) in doc["paths"][path][method.lower()]["responses"], (method, path, expect)
        seen.add((method.lower(), path))
        return r.get_json()

    doc.update(client.get("/api/openapi.json").get_json())
    call("POST", "/api/auth/token", "/api/auth/token", {"username": "admin", "password": ADMIN_PASSWORD}, 201,
         headers={"Authorization": None})
    call("GET", "/api", "/api")
    call("GET", "/api/openapi.json", "/api/openapi.json")
    # Entities and fields.
    e = "/api/meta/entities"
    course = {"key": "course", "label": "Course", "fields": [{"key": "title", "type": "text"},
                                                             {"key": "stage", "type": "stage"}]}
    call("GET", f"{e}?archived=1", e)
    assert call("POST", f"{e}?dry_run=1", e, course, 200)["dry_run"] is True
    call("POST", e, e, course, 201)
    call("GET", f"{e}/course", f"{e}/{{key}}")
    call("PATCH", f"{e}/course", f"{e}/{{key}}", {"label": "Courses"})
    call("GET", f"{e}/course/schema", f"{e}/{{key}}/schema")
    call("POST", f"{e}/course/fields", f"{e}/{{key}}/fields", {"key": "code", "type": "text"}, 201)
    call("PATCH", f"{e}/course/fields/code", f"{e}/{{key}}/fields/{{field}}", {"label": "Code"})
    call("POST", f"{e}/course/fields/code/rename", f"{e}/{{key}}/fields/{{field}}/rename", {"new_key": "ref"})
    call("DELETE", f"{e}/course/fields/ref", f"{e}/{{key}}/fields/{{field}}")
    call("POST", f"{e}/course/fields/ref/restore", f"{e}/{{key}}/fields/{{field}}/restore")
    call("DELETE", f"{e}/course", f"{e}/{{key}}")
    call("POST", f"{e}/course/restore", f"{e}/{{key}}/restore")
    call("POST", e, e, course, 409)
    call("GET", "/api/meta/revisions?limit=2&before=5", "/api/meta/revisions")
    call("GET", "/api/meta/revisions?limit=x", "/api/meta/revisions", expect=400)
    call("GET", "/api/meta/schemas/field", "/api/meta/schemas/{kind}")
    call("GET", "/api/meta/schemas/pipeline", "/api/meta/schemas/{kind}")
    call("GET", "/api/meta/schemas/nothing", "/api/meta/schemas/{kind}", expect=404)
    call("GET", "/api/meta/field-types", "/api/meta/field-types")
    # Every other definition kind.
    definitions = {
        "taxonomies": {"key": "level", "label": "Level", "tags": [{"key": "new", "label": "New"}]},
        "pipelines": {"key": "sales", "label": "Sales", "entity": "course", "field": "stage",
                      "stages": [{"key": "open", "label": "Open"}, {"key": "won", "label": "Won", "category": "won"}]},
        "roles": {"key": "clerk", "label": "Clerk", "entities": {"course": {"read": "all"}}},
        "forms": {"key": "short", "label": "Short", "entity": "course", "layout": [{"title": "Main",
                                                                                  "fields": ["title"]}]},
        "reports": {"key": "by_stage", "label": "By stage", "entity": "course", "group_by": ["stage"]},
        "dashboards": {"key": "main", "label": "Main", "widgets": [{"report": "by_stage"}]},
        "automations": {"key": "mark", "label": "Mark", "entity": "course", "trigger": {"on": "created"},
                        "actions": [{"type": "notify", "owner": True, "message": "New course {title}"}]},
    }
    for plural, definition in definitions.items():
        base, one = f"/api/meta/{plural}", f"/api/meta/{plural}/{{key}}"
        call("POST", base, base, definition, 201)
        call("GET", base, base)
        call("GET", f"{base}/{definition['key']}", one)
        call("PATCH", f"{base}/{definition['key']}", one, {"label": "Changed"})
        call("GET", f"{base}/nothing", one, expect=404)
        if plural != "pipelines":
            call("DELETE", f"{base}/{definition['key']}?dry_run=1", one)
            call("DELETE", f"{base}/{definition['key']}", one)
            call("POST", f"{base}/{definition['key']}/restore", f"{one}/restore")
    dry = call("POST", "/api/meta/automations?dry_run=1", "/api/meta/automations",
               {"key": "again", "label": "Again", "entity": "course", "trigger": {"on": "created"},
                "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/"}]}, 201)
    assert dry["matches"] == {"count": 0, "sample": []}
    call("GET", "/api/automations/mark/runs", "/api/automations/{key}/runs")
    call("GET", "/api/automations/mark/runs?limit=0", "/api/automations/{key}/runs", expect=400)
    call("GET", "/api/automations/nothing/runs", "/api/automations/{key}/runs", expect=404)
    call("DELETE", "/api/meta/pipelines/sales", "/api/meta/pipelines/{key}")
    call("POST", "/api/meta/pipelines/sales/restore", "/api/meta/pipelines/{key}/restore")
    # Records.
    r = "/api/records/course"
    created = call("POST", r, r, {"title": "Maths", "stage": "open"}, 201, headers={"X-Change-Reason": "new"})
    one = f"{r}/{{id}}"
    call("GET", f"{r}?sort=-title&per_page=5&exact_total=1", r)
    call("GET", f"{r}?filter[title][contains]=Ma", r)
    call("GET", f"{r}?page=0", r, expect=400)
    call("POST", f"{r}/bulk", f"{r}/bulk", {"records": [{"title": "Art"}]}, 201)
    call("POST", f"{r}/bulk", f"{r}/bulk", {"records": [{"title": 5}]}, 422)
    # Bulk actions, search and saved views (issue 19).
    bulk = call("POST", f"{r}/bulk-update", f"{r}/bulk-update", {"filter": {"title": "Art"}, "set": {"stage": "open"},
                                                                "_reason": "tidy"})
    assert bulk == {"updated": 1, "refused": []}
    call("POST", f"{r}/bulk-update", f"{r}/bulk-update", {"ids": [1]}, 400)
    call("POST", f"{r}/bulk-update", f"{r}/bulk-update", {"ids": [1], "add_tags": {"title": ["x"]}}, 422)
    call("POST", f"{r}/bulk-update", f"{r}/bulk-update", {"ids": list(range(1, 10_002)), "delete": True}, 413)
    call("POST", "/api/records/nothing/bulk-update", f"{r}/bulk-update", {"ids": [1], "delete": True}, 404)
    assert call("GET", "/api/search?q=art&limit=5", "/api/search")["results"][0]["title"] == "Art"
    call("GET", "/api/search?q=", "/api/search", expect=400)
    view = call("POST", "/api/views", "/api/views", {"entity": "course", "name": "Open", "query": "filter[stage]=open"},
                201)
    call("POST", "/api/views", "/api/views", {"entity": "course", "name": "Bad", "query": "filter[x]=1"}, 422)
    call("POST", "/api/views", "/api/views", {"entity": "nothing", "name": "Bad", "query": ""}, 404)
    call("GET", "/api/views?entity=course", "/api/views")
    call("GET", "/api/views", "/api/views", expect=400)
    call("GET", f"/api/views/{view['id']}", "/api/views/{id}")
    call("PATCH", f"/api/views/{view['id']}", "/api/views/{id}", {"name": "Still open"})
    call("PATCH", f"/api/views/{view['id']}", "/api/views/{id}", {"role": "ghost"}, 422)
    call("DELETE", f"/api/views/{view['id']}", "/api/views/{id}", expect=204)
    call("GET", f"/api/views/{view['id']}", "/api/views/{id}", expect=404)
    import io

    def upload(data: bytes, expect, **form):
        r_ = client.post(f"{r}/import", data={"file": (io.BytesIO(data), "c.csv"), **form},
                         content_type="multipart/form-data")
        assert r_.status_code == expect and str(expect) in doc["paths"][f"{r}/import"]["post"]["responses"], r_.get_json()
        seen.add(("post", f"{r}/import"))
        return r_
    assert upload(b"title\nHistory\n", 200).get_json()["created"] == 1
    upload(b"", 400)
    upload(b"title\nHistory\n", 422, on_match="merge")
    app.config["CRM_IMPORT_SYNC_BYTES"] = 1
    job = upload(b"title\nMusic\n", 202).headers["Location"]
    import time
    for _ in range(100):
        polled = client.get(job)
        if polled.status_code != 202:
            break
        time.sleep(0.05)
    assert polled.status_code == 200 and "200" in doc["paths"]["/api/imports/{id}"]["get"]["responses"]
    seen.add(("get", "/api/imports/{id}"))
    call("GET", "/api/imports/999999", "/api/imports/{id}", expect=404)
    app.config["CRM_IMPORT_SYNC_BYTES"] = 1024 * 1024
    call("GET", f"{r}/{created['id']}", one)
    call("PATCH", f"{r}/{created['id']}", one, {"stage": "won"}, headers={"If-Match": '"1"'})
    call("PATCH", f"{r}/{created['id']}", one, {"title": "x"}, 409, headers={"If-Match": '"1"'})
    call("GET", f"{r}/{created['id']}/history?per_page=1", f"{one}/history")
    moves = call("GET", f"{r}/{created['id']}/stage-history", f"{one}/stage-history")
    assert [m["to_stage"] for m in moves["items"]] == ["open", "won"]
    story = call("GET", f"{r}/{created['id']}/timeline?per_page=5", f"{one}/timeline")
    assert [i["kind"] for i in story["items"]][:2] == ["stage", "change"]  # the move to won, then the create
    call("GET", f"{r}/{created['id']}/timeline?per_page=500", f"{one}/timeline", expect=400)
    call("DELETE", f"{r}/{created['id']}", one, expect=204)
    call("POST", f"{r}/{created['id']}/restore", f"{one}/restore")
    call("GET", f"{r}/999", one, expect=404)
    exported = client.get(f"{r}/export?format=csv&sort=title")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "text/csv" in doc["paths"][f"{r}/export"]["get"]["responses"]["200"]["content"]
    seen.add(("get", f"{r}/export"))
    call("GET", f"{r}/export?format=pdf", f"{r}/export", expect=400)
    twin = call("POST", r, r, {"title": "maths "}, 201)
    groups = call("GET", f"{r}/duplicates?by=title", f"{r}/duplicates")["groups"]
    assert groups == [{"field": "title", "key": "maths", "ids": [created["id"], twin["id"]]}]
    call("GET", f"{r}/duplicates?by=stage", f"{r}/duplicates", expect=400)
    call("POST", f"{r}/merge", f"{r}/merge", {"survivor": created["id"], "others": [created["id"]]}, 422)
    call("POST", f"{r}/merge", f"{r}/merge", {"survivor": created["id"], "others": [twin["id"]]})
    # Personal data (docs/operations.md).
    call("GET", f"{r}/{created['id']}/personal-data", f"{one}/personal-data")
    call("GET", f"{r}/999/personal-data", f"{one}/personal-data", expect=404)
    call("POST", f"{r}/{created['id']}/erase", f"{one}/erase", {"reason": ""}, 422)
    call("POST", f"{r}/{created['id']}/erase", f"{one}/erase", {"reason": "asked"})
    summary = call("GET", "/api/pipelines/sales/summary", "/api/pipelines/{key}/summary")
    assert [s["key"] for s in summary["stages"]] == ["open", "won"]
    call("GET", "/api/pipelines/sales/summary?amount=title", "/api/pipelines/{key}/summary", expect=400)
    # Reports.
    ran = call("POST", "/api/reports/run", "/api/reports/run", {"entity": "course", "group_by": ["stage"]})
    assert ran["columns"] == ["stage", "count"]
    call("POST", "/api/reports/run", "/api/reports/run", {"entity": "course", "group_by": ["nothing"]}, 422)
    call("GET", "/api/reports", "/api/reports")
    assert call("GET", "/api/reports/by_stage/data?tz=%2B08:00", "/api/reports/{key}/data")["columns"] == ["stage", "count"]
    call("GET", "/api/reports/nothing/data", "/api/reports/{key}/data", expect=404)
    call("GET", "/api/dashboards", "/api/dashboards")
    call("GET", "/api/dashboards/main", "/api/dashboards/{key}")
    # Users.
    u = call("POST", "/api/users", "/api/users", {"username": "lily", "password": "lily-password"}, 201)
    call("POST", "/api/users", "/api/users", {"username": "lily", "password": "lily-password"}, 409)
    call("GET", "/api/users", "/api/users")
    call("GET", f"/api/users/{u['id']}", "/api/users/{id}")
    call("PATCH", f"/api/users/{u['id']}", "/api/users/{id}", {"roles": ["clerk"], "active": False})
    call("PATCH", f"/api/users/{u['id']}", "/api/users/{id}", {"username": "rose"}, 422)
    assert call("DELETE", f"/api/users/{u['id']}/totp", "/api/users/{id}/totp")["totp"] is False
    call("DELETE", "/api/users/999999/totp", "/api/users/{id}/totp", expect=404)
    # Bundles.
    exported = client.get("/api/bundle?name=mine&version=2.0.0&only=course,role:clerk")
    assert exported.status_code == 200 and exported.headers["ETag"].startswith('"sha256:')
    seen.add(("get", "/api/bundle"))
    call("GET", "/api/bundle?only=nothing", "/api/bundle", expect=404)
    plan = call("POST", "/api/bundle?dry_run=1&on_conflict=keep-local", "/api/bundle", exported.get_json())
    call("POST", f"/api/bundle?expect_revision={plan['revision']}", "/api/bundle", exported.get_json())
    call("POST", "/api/bundle?on_conflict=mine", "/api/bundle", exported.get_json(), 400)
    call("GET", "/api/bundle/installed", "/api/bundle/installed")
    call("GET", "/api/bundle/schema", "/api/bundle/schema")
    call("GET", "/api/bundle/templates", "/api/bundle/templates")
    call("POST", "/api/bundle/templates/nothing/install", "/api/bundle/templates/{name}/install", expect=404)
    # Notifications (the admin's own).
    from crm_platform import notifications
    with app.extensions["crm"].engine.begin() as conn:
        notifications.notify(conn, [1], "reminder", {"en": "Due", "zh": "到期"}, entity="course", record_id=1)
    listed = call("GET", "/api/notifications?unread=1", "/api/notifications")
    call("GET", "/api/notifications?unread=2", "/api/notifications", expect=400)
    call("POST", f"/api/notifications/{listed['items'][0]['id']}/read", "/api/notifications/{id}/read")
    call("POST", "/api/notifications/999999/read", "/api/notifications/{id}/read", expect=404)
    call("POST", "/api/notifications/read-all", "/api/notifications/read-all")
    # Approvals: the stage "won" asks the course's owner (the admin); a clerk asks, the admin decides.
    won_needs_owner = [{"key": "open", "label": "Open"}, {"key": "won", "label": "Won", "category": "won",
                                                          "approval": {"approvers": {"field": "owner_id"}}}]
    assert client.patch("/api/meta/pipelines/sales", json={"stages": won_needs_owner}).status_code == 200
    assert client.patch("/api/meta/roles/clerk", json={"entities": {"course": {"read": "all", "update": "all"}}}
                        ).status_code == 200
    users = app.extensions["crm"].users
    rita = users.issue_token(users.create("rita", "rita-password", roles=["clerk"]))
    asked = client.post(r, json={"title": "physics", "stage": "open"}).get_json()
    moved = client.patch(f"{r}/{asked['id']}", json={"stage": "won"}, headers={"Authorization": f"Bearer {rita}"})
    assert moved.status_code == 200 and moved.get_json()["stage"] == "open"
    pending = call("GET", "/api/approvals?mine=1", "/api/approvals")["items"]
    assert len(pending) == 1 and pending[0]["can_decide"]
    call("GET", "/api/approvals?status=maybe", "/api/approvals", expect=400)
    call("GET", f"/api/approvals/{pending[0]['id']}", "/api/approvals/{id}")
    call("GET", "/api/approvals/999999", "/api/approvals/{id}", expect=404)
    call("POST", f"/api/approvals/{pending[0]['id']}/reject", "/api/approvals/{id}/reject", {}, 422)
    call("POST", f"/api/approvals/{pending[0]['id']}/approve", "/api/approvals/{id}/approve", {"comment": "ok"})
    call("POST", f"/api/approvals/{pending[0]['id']}/approve", "/api/approvals/{id}/approve", {}, 409)
    call("POST", f"/api/approvals/{pending[0]['id']}/reject", "/api/approvals/{id}/reject", {"comment": "no"}, 409)
    call("POST", "/api/approvals/999999/approve", "/api/approvals/{id}/approve", {}, 404)
    call("POST", f"/api/approvals/{pending[0]['id']}/withdraw", "/api/approvals/{id}/withdraw", {}, 409)
    call("POST", "/api/approvals/999999/withdraw", "/api/approvals/{id}/withdraw", {}, 404)
    assert client.patch(f"{r}/{asked['id']}", json={"stage": "open"}).status_code == 200
    again = client.patch(f"{r}/{asked['id']}", json={"stage": "won"}, headers={"Authorization": f"Bearer {rita}"})
    assert again.status_code == 200 and again.get_json()["stage"] == "open"
    second = call("GET", "/api/approvals?mine=1", "/api/approvals")["items"][0]
    assert call("POST", f"/api/approvals/{second['id']}/withdraw", "/api/approvals/{id}/withdraw",
                {"comment": "not yet"})["status"] == "withdrawn"
    # Every operation but the other entities' record endpoints has been called.
    others = ("/api/records/student", "/api/records/guardian")
    left = {(m, p) for p, m, _ in operations(doc) if not p.startswith(others)}
    assert left - seen == set()
