"""Personal data of one person (runtime/personal_data.py, docs/operations.md): exported as one file
and erased, by administrators only, each leaving an audit row; audit rows kept without the values."""
from __future__ import annotations

import re

import sqlalchemy as sa

from crm_platform.clock import utcnow
from crm_platform.tables import audit_log, notifications

PERSON = {"key": "person", "label": {"en": "Person", "zh": "人员"}, "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True, "personal": True},
    {"key": "email", "type": "email", "unique": True},
    {"key": "mobile", "type": "phone"},
    {"key": "born_on", "type": "date", "personal": True},
    {"key": "city", "type": "text"}]}
NOTE = {"key": "note", "label": "Note", "fields": [
    {"key": "subject", "type": "text"},
    {"key": "body", "type": "long_text", "personal": True},
    {"key": "person", "type": "reference", "target": "person", "on_delete": "set_null"}]}
SECRETS = ("Ann Lee", "ann@example.com", "138 0013 8000", "1990-05-04", "she moved house")


def _setup(client):
    for doc in (PERSON, NOTE):
        assert client.post("/api/meta/entities", json=doc).status_code == 201
    ann = client.post("/api/records/person", json={"name": "Ann Lee", "email": "ann@example.com",
                                                  "mobile": "138 0013 8000", "born_on": "1990-05-04",
                                                  "city": "Shanghai"}).get_json()
    assert client.patch(f"/api/records/person/{ann['id']}", json={"city": "Beijing", "mobile": "139 0000 0000"},
                        headers={"X-Change-Reason": "moved"}).status_code == 200
    note = client.post("/api/records/note", json={"subject": "call", "body": "she moved house",
                                                 "person": ann["id"]}).get_json()
    binned = client.post("/api/records/note", json={"subject": "old", "body": "Ann Lee's old note",
                                                   "person": ann["id"]}).get_json()
    assert client.delete(f"/api/records/note/{binned['id']}").status_code == 204
    other = client.post("/api/records/person", json={"name": "Bob", "email": "bob@example.com"}).get_json()
    return ann, note, binned, other


def _visitor(app):
    users = app.extensions["crm"].users
    return {"Authorization": f"Bearer {users.issue_token(users.create('visitor', 'visitor-password'))}"}


def test_personal_fields_are_the_flagged_ones_and_every_email_and_phone(client):
    _setup(client)
    stored = client.get("/api/meta/entities/person").get_json()
    assert [f["key"] for f in stored["fields"] if f.get("personal")] == ["name", "born_on"]
    # Turning the flag off again changes no table and is stored as the flag's absence.
    r = client.patch("/api/meta/entities/person/fields/born_on", json={"personal": False})
    assert r.status_code == 200, r.get_json()
    assert "personal" not in next(f for f in client.get("/api/meta/entities/person").get_json()["fields"]
                                  if f["key"] == "born_on")
    assert client.patch("/api/meta/entities/person/fields/city", json={"personal": "yes"}).status_code == 422


def test_an_admin_exports_everything_about_a_person_as_one_file_with_an_audit_row(app, client):
    ann, note, binned, other = _setup(client)
    r = client.get(f"/api/records/person/{ann['id']}/personal-data")
    assert r.status_code == 200, r.get_json()
    assert r.headers["Content-Disposition"] == f'attachment; filename="person-{ann["id"]}-personal-data.json"'
    body = r.get_json()
    assert body["format"] == "crm-personal-data/1" and body["subject"] == {"entity": "person", "id": ann["id"]}
    assert body["personal_fields"] == {"person": ["name", "email", "mobile", "born_on"], "note": ["body"]}
    assert [(x["entity"], x["id"], x["relation"]) for x in body["records"]] == [
        ("person", ann["id"], "subject"), ("note", note["id"], "note.person"), ("note", binned["id"], "note.person")]
    assert body["records"][0]["record"]["mobile"] == "139 0000 0000"
    assert body["records"][2]["record"]["archived_at"] is not None  # the recycle bin is included
    actions = [(a["entity"], a["record_id"], a["action"]) for a in body["audit"]]
    assert actions.count(("person", ann["id"], "create")) == 1 and ("person", ann["id"], "update") in actions
    assert ("note", binned["id"], "delete") in actions and not any(a[1] == other["id"] for a in actions
                                                                    if a[0] == "person")
    history = client.get(f"/api/records/person/{ann['id']}/history").get_json()["items"]
    assert history[0]["action"] == "personal_export" and history[0]["actor"] == "admin"


def test_an_erase_blanks_personal_values_and_keeps_audit_rows_without_them(app, client):
    ann, note, binned, other = _setup(client)
    engine = app.extensions["crm"].engine
    with engine.connect() as conn:
        rows_before = conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
        conn.execute(notifications.insert().values(user_id=1, kind="reminder", title="Ann Lee", entity="person",
                                                   record_id=ann["id"], created_at=utcnow()))
        conn.commit()
    r = client.post(f"/api/records/person/{ann['id']}/erase", json={"reason": "the person asked (GDPR art. 17)"})
    assert r.status_code == 200, r.get_json()
    result = r.get_json()
    assert result["erased"] == [{"entity": "person", "id": ann["id"], "fields": ["born_on", "email", "mobile", "name"]},
                                {"entity": "note", "id": note["id"], "fields": ["body"]},
                                {"entity": "note", "id": binned["id"], "fields": ["body"]}]
    assert result["notifications"] == 1
    person = client.get(f"/api/records/person/{ann['id']}").get_json()
    # required: a placeholder unique to the record; the rest blank; what is not personal stays
    assert person["name"] == f"[erased #{ann['id']}]" and person["city"] == "Beijing"
    assert person["email"] is None and person["mobile"] is None and person["born_on"] is None
    assert client.get(f"/api/records/note/{note['id']}").get_json()["body"] is None
    assert client.get(f"/api/records/note/{note['id']}").get_json()["subject"] == "call"
    # the binned note was erased and is back in the recycle bin
    assert client.get(f"/api/records/note/{binned['id']}").status_code == 404
    # No audit row holds a personal value any more; rows are kept (and added: the erase's own).
    with engine.connect() as conn:
        texts = [row.changes + (row.reason or "") for row in conn.execute(sa.select(audit_log)).all()]
        rows_after = conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
        titles = conn.execute(sa.select(notifications.c.title)).scalars().all()
    assert rows_after > rows_before
    for secret in SECRETS:
        assert not [t for t in texts if secret in t], secret
    assert titles == ["[erased]"]
    history = client.get(f"/api/records/person/{ann['id']}/history").get_json()["items"]
    assert history[0]["action"] == "erase" and history[0]["reason"] == "the person asked (GDPR art. 17)"
    first = history[-1]
    assert first["action"] == "create" and first["changes"]["email"] == [None, "[erased]"]
    assert first["changes"]["city"] == [None, "Shanghai"]  # not personal: kept
    # Bob is untouched, and the export afterwards holds no personal value.
    assert client.get(f"/api/records/person/{other['id']}").get_json()["email"] == "bob@example.com"
    export = client.get(f"/api/records/person/{ann['id']}/personal-data").get_data(as_text=True)
    assert not [s for s in SECRETS if s in export]


def test_erase_needs_a_reason_and_both_actions_need_an_administrator(app, client):
    ann, *_ = _setup(client)
    for body in ({}, {"reason": "  "}, {"reason": "x", "purge": True}):
        r = client.post(f"/api/records/person/{ann['id']}/erase", json=body)
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] in ("reason", "purge"), r.get_json()
    assert client.post("/api/records/person/999/erase", json={"reason": "x"}).status_code == 404
    assert client.get("/api/records/person/999/personal-data").status_code == 404
    visitor = _visitor(app)
    assert client.get(f"/api/records/person/{ann['id']}/personal-data", headers=visitor).status_code == 403
    assert client.post(f"/api/records/person/{ann['id']}/erase", json={"reason": "x"},
                       headers=visitor).status_code == 403
    assert client.get(f"/api/records/person/{ann['id']}").get_json()["email"] == "ann@example.com"


def test_a_required_personal_field_without_a_placeholder_refuses_the_erase_naming_it(client):
    doc = {"key": "member", "label": "Member", "fields": [{"key": "born_on", "type": "date", "required": True,
                                                           "personal": True}]}
    assert client.post("/api/meta/entities", json=doc).status_code == 201
    m = client.post("/api/records/member", json={"born_on": "2001-02-03"}).get_json()
    r = client.post(f"/api/records/member/{m['id']}/erase", json={"reason": "asked"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "member.born_on"
    assert client.get(f"/api/records/member/{m['id']}").get_json()["born_on"] == "2001-02-03"


def test_the_record_page_offers_both_actions_to_administrators_only(app, client):
    from test_screens import Pages
    ann, *_ = _setup(client)
    app.extensions["crm"].users.create("visitor", "visitor-password")
    admin, visitor = Pages(app), Pages(app, "visitor")
    page = admin.get(f"/app/person/{ann['id']}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "导出个人数据" in page and "删除个人数据" in page
    page = admin.get(f"/app/person/{ann['id']}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Export personal data" in page and "Erase personal data" in page
    download = admin.get(f"/app/person/{ann['id']}/personal-data")
    assert download.status_code == 200 and download.get_json()["subject"]["id"] == ann["id"]
    assert "attachment" in download.headers["Content-Disposition"]
    assert visitor.get(f"/app/person/{ann['id']}/personal-data").status_code == 403
    assert visitor.post(f"/app/person/{ann['id']}/erase", data={"erase_reason": "x"}).status_code == 403
    r = admin.post(f"/app/person/{ann['id']}/erase", data={"erase_reason": ""})
    assert r.status_code == 422
    r = admin.post(f"/app/person/{ann['id']}/erase", data={"erase_reason": "asked by phone"})
    assert r.status_code == 303
    page = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "ann@example.com" not in page and "[erased]" in page


def test_the_designer_sets_and_keeps_the_personal_flag(app, client):
    """Editing a field in the designer must not drop the flag (the form rebuilds the definition)."""
    from test_admin_designer import sign_in
    _setup(client)
    admin = sign_in(app.test_client())
    page = admin.get("/admin/entities/person/fields/born_on/edit").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*name="personal"|<input[^>]*name="personal"[^>]*checked', page)
    data = {"key": "city", "type": "text", "label_en": "City", "personal": "y", "_confirm": "1"}
    assert admin.post("/admin/entities/person/fields/city/edit", data=data).status_code == 302
    data = {"key": "born_on", "type": "date", "label_en": "Born on", "_confirm": "1"}
    assert admin.post("/admin/entities/person/fields/born_on/edit", data=data).status_code == 302
    fields = {f["key"]: f for f in client.get("/api/meta/entities/person").get_json()["fields"]}
    assert fields["city"].get("personal") is True and "personal" not in fields["born_on"]
