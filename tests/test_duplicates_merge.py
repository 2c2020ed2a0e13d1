"""Find duplicates (GET /api/records/<entity>/duplicates) and merge (POST /api/records/<entity>/merge)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from test_screens import Pages

KIND = {"key": "kind", "label": {"en": "Kind", "zh": "类型"},
        "tags": [{"key": "vip", "label": {"en": "VIP", "zh": "贵宾"}},
                 {"key": "school", "label": {"en": "School", "zh": "学校"}},
                 {"key": "partner", "label": {"en": "Partner", "zh": "伙伴"}}]}
CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
        {"key": "phone", "type": "phone", "label": {"en": "Phone", "zh": "电话"}},
        {"key": "email", "type": "email", "label": {"en": "E-mail", "zh": "邮箱"}},
        {"key": "tax_no", "type": "text", "label": {"en": "Tax number", "zh": "税号"}, "unique": True},
        {"key": "level", "type": "select", "label": {"en": "Level", "zh": "级别"},
         "choices": [{"key": "a", "label": "A"}, {"key": "b", "label": "B"}]},
        {"key": "kinds", "type": "tags", "taxonomy": "kind", "label": {"en": "Kinds", "zh": "类别"}},
        {"key": "notes", "type": "text", "label": {"en": "Notes", "zh": "备注"}},
    ],
}
CONTACT = {
    "key": "contact", "label": {"en": "Contact", "zh": "联系人"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": "Name", "required": True},
        {"key": "customer", "type": "reference", "target": "customer", "label": "Customer"},
        {"key": "referrer", "type": "reference", "target": "customer", "label": "Referred by", "on_delete": "set_null"},
    ],
}
ROLES = [
    {"key": "sales", "label": "Sales",
     "entities": {"customer": {"create": "own", "read": "own", "update": "own", "delete": "own",
                               "fields": {"notes": {"read": False}}},
                  "contact": {"read": "own"}}},
    {"key": "service", "label": "Service",
     "entities": {"customer": {"read": "all", "update": "all"}}},
]


@pytest.fixture
def crm(app, client):
    assert client.post("/api/meta/taxonomies", json=KIND).status_code == 201
    for doc in (CUSTOMER, CONTACT):
        r = client.post("/api/meta/entities", json=doc)
        assert r.status_code == 201, r.get_json()
    for role in ROLES:
        assert client.post("/api/meta/roles", json=role).status_code == 201
    return client


def add(client, entity, headers=None, **values):
    r = client.post(f"/api/records/{entity}", json=values, headers=headers or {})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def token_for(app, name, *roles):
    users = app.extensions["crm"].users
    user = users.create(name, f"{name}-password", roles=list(roles))
    return user.id, {"Authorization": f"Bearer {users.issue_token(user)}"}


def live_ids(app, entity):
    with app.extensions["crm"].records.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT id FROM ent_{entity} WHERE archived_at IS NULL ORDER BY id")).scalars().all()


def test_groups_share_a_normalised_phone_email_or_near_identical_name(crm):
    a = add(crm, "customer", name="上海星辰科技有限公司", phone="138 0013 8000", email="Li@Example.com")
    b = add(crm, "customer", name="上海星辰科技", phone="+86 138-0013-8000")
    c = add(crm, "customer", name="Acme Co., Ltd.", email="li@example.com ".strip().upper())
    d = add(crm, "customer", name="ＡＣＭＥ")
    add(crm, "customer", name="Other", phone="139 0000 0000")
    r = crm.get("/api/records/customer/duplicates?by=phone,email,name")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["groups"] == [
        {"field": "phone", "key": "+8613800138000", "ids": [a, b]},
        {"field": "email", "key": "li@example.com", "ids": [a, c]},
        {"field": "name", "key": "上海星辰科技", "ids": [a, b]},
        {"field": "name", "key": "acme", "ids": [c, d]},
    ]
    r = crm.get("/api/records/customer/duplicates?by=name&filter[phone][is_empty]")
    assert [g["ids"] for g in r.get_json()["groups"]] == [[c, d]]


@pytest.mark.parametrize("query, status, field", [
    ("", 400, "by"), ("by=nope", 400, "by"), ("by=level", 400, "by"), ("by=name&filter[nope]=1", 400, "filter[nope]"),
])
def test_bad_duplicate_queries_name_the_parameter(crm, query, status, field):
    r = crm.get(f"/api/records/customer/duplicates?{query}")
    assert r.status_code == status, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field


def test_duplicates_count_only_what_the_user_may_read(app, crm):
    alice, as_alice = token_for(app, "alice", "sales")
    add(crm, "customer", name="Acme")  # the administrator's
    mine = [add(crm, "customer", headers=as_alice, name="Acme Inc."), add(crm, "customer", headers=as_alice, name="ACME")]
    r = crm.get("/api/records/customer/duplicates?by=name", headers=as_alice)
    assert r.get_json()["groups"] == [{"field": "name", "key": "acme", "ids": mine}]
    r = crm.get("/api/records/customer/duplicates?by=notes", headers=as_alice)
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "notes"


def test_a_merge_repoints_references_unites_tags_and_bins_the_others_naming_the_survivor(app, crm):
    keep = add(crm, "customer", name="星辰科技", phone="138 0013 8000", kinds=["vip"], level="a")
    dup1 = add(crm, "customer", name="星辰科技有限公司", email="li@example.com", kinds=["school"], level="b",
               tax_no="91310000")
    dup2 = add(crm, "customer", name="Xingchen", kinds=["vip", "partner"])
    c1 = add(crm, "contact", name="张三", customer=dup1)
    c2 = add(crm, "contact", name="李四", customer=dup2, referrer=dup1)
    c3 = add(crm, "contact", name="王五", customer=keep)
    r = crm.post("/api/records/customer/merge", json={"survivor": keep, "others": [dup1, dup2],
                                                      "choices": {"email": dup1, "level": dup1, "name": keep,
                                                                  "tax_no": dup1}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["_merge"] == {"merged": [dup1, dup2], "repointed": {"contact.customer": 2, "contact.referrer": 1}}
    survivor = crm.get(f"/api/records/customer/{keep}").get_json()
    assert (survivor["name"], survivor["phone"], survivor["email"], survivor["level"], survivor["tax_no"]) == (
        "星辰科技", "138 0013 8000", "li@example.com", "b", "91310000")  # a unique value moved to the survivor
    assert sorted(survivor["kinds"]) == ["partner", "school", "vip"]
    assert live_ids(app, "customer") == [keep]
    contacts = {c["id"]: c for c in crm.get("/api/records/contact").get_json()["items"]}
    assert [contacts[c]["customer"] for c in (c1, c2, c3)] == [keep, keep, keep]
    assert contacts[c2]["referrer"] == keep
    # the merged records are in the recycle bin, their last audit row naming the survivor
    for other in (dup1, dup2):
        history = crm.get(f"/api/records/customer/{other}/history").get_json()["items"]
        assert history[0]["action"] == "delete" and f"merged into customer #{keep}" in history[0]["reason"]
        assert history[-1]["action"] == "create"  # their history stays with them
    history = crm.get(f"/api/records/contact/{c1}/history").get_json()["items"]
    assert history[0]["reason"] == f"customer #{dup1} was merged into #{keep}"
    assert crm.post(f"/api/records/customer/{dup2}/restore").status_code == 200  # and can come back
    assert crm.post(f"/api/records/customer/{dup1}/restore").status_code == 409  # its tax number is the survivor's


def make_three(crm):
    keep = add(crm, "customer", name="A", email="a@example.com")
    other = add(crm, "customer", name="A Co.", email="b@example.com")
    contact = add(crm, "contact", name="C", customer=other)
    return keep, other, contact


@pytest.mark.parametrize("body, field", [
    (lambda k, o: {"survivor": k, "others": [k, o]}, "others"),
    (lambda k, o: {"survivor": k, "others": []}, "others"),
    (lambda k, o: {"survivor": k, "others": [o, o]}, "others"),
    (lambda k, o: {"survivor": "1", "others": [o]}, "survivor"),
    (lambda k, o: {"survivor": k, "others": [999]}, "others.0"),
    (lambda k, o: {"survivor": k, "others": [o], "choices": {"email": 999}}, "choices.email"),
    (lambda k, o: {"survivor": k, "others": [o], "choices": {"nope": o}}, "choices.nope"),
    (lambda k, o: {"survivor": k, "others": [o], "choices": {"kinds": o}}, "choices.kinds"),
])
def test_a_wrong_merge_is_422_naming_the_part_and_changes_nothing(app, crm, body, field):
    keep, other, contact = make_three(crm)
    r = crm.post("/api/records/customer/merge", json=body(keep, other))
    assert r.status_code == 422, r.get_json()
    assert field in [e["field"] for e in r.get_json()["errors"]]
    assert live_ids(app, "customer") == [keep, other]
    assert crm.get(f"/api/records/contact/{contact}").get_json()["customer"] == other


def test_merging_records_the_user_may_not_delete_or_read_is_refused_and_changes_nothing(app, crm):
    keep, other, contact = make_three(crm)
    _, as_sam = token_for(app, "sam", "service")  # may read and change customers, not delete them
    r = crm.post("/api/records/customer/merge", json={"survivor": keep, "others": [other]}, headers=as_sam)
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] in (None, "others.0"), r.get_json()
    _, as_alice = token_for(app, "alice", "sales")  # may delete her own customers only: these are unknown to her
    mine = add(crm, "customer", headers=as_alice, name="A")
    r = crm.post("/api/records/customer/merge", json={"survivor": mine, "others": [other]}, headers=as_alice)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "others.0"
    assert "no customer record with id" in r.get_json()["errors"][0]["message"]
    assert live_ids(app, "customer") == [keep, other, mine]
    assert crm.get(f"/api/records/contact/{contact}").get_json()["customer"] == other


def test_a_refusal_late_in_the_merge_rolls_everything_back(app, crm):
    keep, other, contact = make_three(crm)
    _, as_alice = token_for(app, "alice", "sales")
    a1 = add(crm, "customer", headers=as_alice, name="Mine")
    a2 = add(crm, "customer", headers=as_alice, name="Mine too")
    crm.patch(f"/api/records/customer/{a2}", json={"notes": "hidden from alice"})
    crm.patch(f"/api/records/contact/{contact}", json={"customer": a2})
    # choosing a field she may not read or write: refused after nothing else may stay changed
    r = crm.post("/api/records/customer/merge", json={"survivor": a1, "others": [a2], "choices": {"notes": a2}},
                 headers=as_alice)
    assert r.status_code in (403, 422), r.get_json()
    assert r.get_json()["errors"][0]["field"] in ("notes", "choices.notes")
    assert a2 in live_ids(app, "customer")
    assert crm.get(f"/api/records/contact/{contact}").get_json()["customer"] == a2


def test_a_refusal_after_references_moved_and_records_were_binned_rolls_everything_back(app, client, crm):
    keep, other, contact = make_three(crm)
    crm.patch(f"/api/records/customer/{other}", json={"level": "b"})
    role = {"key": "cleaner", "label": "Cleaner", "entities": {"customer": {
        "read": "all", "update": "all", "delete": "all", "fields": {"level": {"write": False}}}}}
    assert client.post("/api/meta/roles", json=role).status_code == 201
    _, as_cleaner = token_for(app, "cleaner", "cleaner")
    audit_rows = crm.get(f"/api/records/contact/{contact}/history").get_json()["total"]
    # level is read-only for this user: the survivor's update, the merge's last step, is refused
    r = crm.post("/api/records/customer/merge", json={"survivor": keep, "others": [other], "choices": {"level": other}},
                 headers=as_cleaner)
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["errors"][0]["field"] == "level"
    assert live_ids(app, "customer") == [keep, other]
    assert crm.get(f"/api/records/contact/{contact}").get_json()["customer"] == other
    assert crm.get(f"/api/records/contact/{contact}/history").get_json()["total"] == audit_rows
    assert crm.get(f"/api/records/customer/{other}/history").get_json()["items"][0]["action"] != "delete"
    r = crm.post("/api/records/customer/merge", json={"survivor": keep, "others": [other]}, headers=as_cleaner)
    assert r.status_code == 200 and live_ids(app, "customer") == [keep]


def test_merge_page_lists_groups_and_merges_one_in_chinese(app, crm):
    keep = add(crm, "customer", name="星辰科技有限公司", phone="13800138000", level="a")
    other = add(crm, "customer", name="星辰科技", level="b")
    contact = add(crm, "contact", name="张三", customer=other)
    pages = Pages(app)
    r = pages.get("/app/customer", headers={"Accept-Language": "zh"})
    assert "查找重复" in r.get_data(as_text=True) and "导出" in r.get_data(as_text=True)
    r = pages.get("/app/customer/duplicates?by=name", headers={"Accept-Language": "zh"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "名称相同：星辰科技" in html and "保留的记录" in html
    r = pages.post("/app/customer/merge", headers={"Accept-Language": "zh"},
                   data={"ids": [str(keep), str(other)], "survivor": str(keep), "choice-level": str(other)})
    assert r.status_code == 303, r.get_data(as_text=True)
    assert r.headers["Location"].endswith(f"/app/customer/{keep}")
    assert live_ids(app, "customer") == [keep]
    assert crm.get(f"/api/records/customer/{keep}").get_json()["level"] == "b"
    assert crm.get(f"/api/records/contact/{contact}").get_json()["customer"] == keep
    r = pages.post("/app/customer/merge", headers={"Accept-Language": "zh"},
                   data={"ids": [str(keep), str(other)], "survivor": str(keep)})
    assert r.status_code == 422 and f"<strong>#{other}</strong>: 未找到" in r.get_data(as_text=True)  # merged already


def test_the_page_speaks_english_and_is_only_for_users_who_may_merge(app, crm):
    add(crm, "customer", name="Acme Co., Ltd.", email="a@example.com")
    add(crm, "customer", name="ACME", email="A@example.com")
    pages = Pages(app)
    html = pages.get("/app/customer/duplicates", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Same Name: acme" in html and "Same E-mail: a@example.com" in html and "Record to keep" in html
    token_for(app, "sam", "service")  # may change customers, not delete them
    sam = Pages(app, "sam")
    assert "Find duplicates" not in sam.get("/app/customer").get_data(as_text=True)
    assert sam.get("/app/customer/duplicates").status_code == 403
    assert sam.post("/app/customer/merge", data={"ids": ["1", "2"], "survivor": "1"}).status_code == 403
    assert live_ids(app, "customer") == [1, 2]
