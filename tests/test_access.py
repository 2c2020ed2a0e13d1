"""Roles and rights: who sees and changes which records and fields (the CRM documents' examples)."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

CUSTOMER = {
    "key": "customer", "label": {"en": "Customer", "zh": "客户"}, "title_field": "name",
    "fields": [
        {"key": "name", "type": "text", "label": {"en": "Name", "zh": "名称"}, "required": True},
        {"key": "phone", "type": "phone", "label": {"en": "Phone", "zh": "电话"}},
        {"key": "region", "type": "text", "label": {"en": "Region", "zh": "区域"}},
        {"key": "notes", "type": "long_text", "label": {"en": "Notes", "zh": "备注"}},
    ],
}
DEAL = {
    "key": "deal", "label": {"en": "Opportunity", "zh": "销售机会"}, "title_field": "title",
    "fields": [
        {"key": "title", "type": "text", "label": "Title", "required": True},
        {"key": "customer", "type": "reference", "label": "Customer", "target": "customer"},
        {"key": "amount", "type": "decimal", "label": {"en": "Amount", "zh": "金额"}, "scale": 2},
        {"key": "stage", "type": "stage", "label": "Stage"},
    ],
}
PIPELINE = {
    "key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "amount_field": "amount",
    "stages": [{"key": "first_contact", "label": {"en": "First contact", "zh": "初步接触"}},
               {"key": "quote", "label": {"en": "Quote", "zh": "报价"}},
               {"key": "signed", "label": {"en": "Signed", "zh": "签约"}, "category": "won"}],
}
OWN = {"create": "own", "read": "own", "update": "own", "delete": "own"}
ROLES = [
    {"key": "sales", "label": {"en": "Salesperson", "zh": "销售"},
     "entities": {"customer": OWN, "deal": OWN}},
    {"key": "service", "label": {"en": "Service staff", "zh": "客服"},
     "entities": {"customer": {"read": "all", "update": "all"},
                  "deal": {"read": "all", "update": "all", "fields": {"amount": {"write": False}}}}},
    {"key": "manager", "label": {"en": "Sales manager", "zh": "销售经理"},
     "entities": {"*": {"create": "all", "read": "all", "update": "all", "delete": "all"}}},
    {"key": "assistant", "label": "Assistant",
     "entities": {"customer": {"read": "all", "fields": {"notes": {"read": False}}},
                  "deal": {"read": "all", "update": "all", "fields": {"amount": {"read": False}}}}},
    {"key": "designer", "label": "Designer", "admin": True},
]


class Crm:
    """The admin's client plus one signed-in client per user."""

    def __init__(self, app, client):
        self.app, self.admin = app, client
        self.users = app.extensions["crm"].users
        self.ids = {}
        self.tokens = {}

    def user(self, name, *roles):
        u = self.users.create(name, f"{name}-password", roles=list(roles))
        self.ids[name] = u.id
        self.tokens[name] = self.users.issue_token(u)
        return u.id

    def as_(self, name, method, url, **kw):
        return self.admin.open(url, method=method, headers={"Authorization": f"Bearer {self.tokens[name]}"}, **kw)


@pytest.fixture
def crm(app, client):
    for url, doc in [("/api/meta/entities", CUSTOMER), ("/api/meta/entities", DEAL), ("/api/meta/pipelines", PIPELINE)]:
        r = client.post(url, json=doc)
        assert r.status_code == 201, r.get_json()
    for role in ROLES:
        r = client.post("/api/meta/roles", json=role)
        assert r.status_code == 201, r.get_json()
    c = Crm(app, client)
    c.user("alice", "sales")
    c.user("bob", "sales")
    c.user("sam", "service")
    c.user("mia", "manager")
    c.user("ann", "assistant")
    c.user("clerk")
    return c


def amount_in_db(platform, deal_id):
    t = platform.runtime.current().entity("deal").table
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(t.c.amount).where(t.c.id == deal_id)).scalar_one()


# ---- the examples from the CRM documents ---------------------------------------------------------

def test_a_salesperson_sees_and_edits_only_their_own_customers(crm):
    r = crm.as_("alice", "POST", "/api/records/customer", json={"name": "Zhang Wei Trading", "region": "East"})
    assert r.status_code == 201, r.get_json()
    alices = r.get_json()
    assert alices["owner_id"] == crm.ids["alice"]
    bobs = crm.as_("bob", "POST", "/api/records/customer", json={"name": "Li Na Foods", "region": "East"}).get_json()
    crm.admin.post("/api/records/customer", json={"name": "Unowned Co"})

    listed = crm.as_("alice", "GET", "/api/records/customer").get_json()
    assert [r["name"] for r in listed["items"]] == ["Zhang Wei Trading"] and listed["total"] == 1
    # Totals never count other people's records, whatever the filter.
    assert crm.as_("alice", "GET", "/api/records/customer?filter[region]=East").get_json()["total"] == 1
    assert crm.as_("alice", "GET", "/api/records/customer?q=Li").get_json()["total"] == 0

    # Another salesperson's customer does not exist for alice: 404, not 403, so ids cannot be probed.
    for method, url, kw in [("GET", f"/api/records/customer/{bobs['id']}", {}),
                            ("PATCH", f"/api/records/customer/{bobs['id']}", {"json": {"region": "West"}}),
                            ("DELETE", f"/api/records/customer/{bobs['id']}", {}),
                            ("GET", f"/api/records/customer/{bobs['id']}/history", {})]:
        r = crm.as_("alice", method, url, **kw)
        assert r.status_code == 404, (method, url, r.get_json())
    assert crm.admin.get(f"/api/records/customer/{bobs['id']}").get_json()["region"] == "East"

    r = crm.as_("alice", "PATCH", f"/api/records/customer/{alices['id']}", json={"region": "North"})
    assert r.status_code == 200 and r.get_json()["region"] == "North"
    assert crm.as_("alice", "DELETE", f"/api/records/customer/{alices['id']}").status_code == 204
    assert crm.as_("alice", "POST", f"/api/records/customer/{alices['id']}/restore").status_code == 200


def test_service_staff_see_every_customer_but_cannot_change_a_deal_amount(crm, platform):
    customer = crm.as_("alice", "POST", "/api/records/customer", json={"name": "Acme"}).get_json()
    deal = crm.as_("alice", "POST", "/api/records/deal", json={"title": "Acme ERP", "customer": customer["id"],
                                                               "amount": Decimal("120000.00")}).get_json()
    crm.as_("bob", "POST", "/api/records/customer", json={"name": "Globex"})
    assert crm.as_("sam", "GET", "/api/records/customer").get_json()["total"] == 2

    r = crm.as_("sam", "PATCH", f"/api/records/deal/{deal['id']}", json={"amount": Decimal("1.00"), "title": "Acme ERP v2"})
    assert r.status_code == 403
    assert r.get_json()["errors"] == [{"field": "amount", "code": "forbidden", "message": "you may not change 'amount'"}]
    assert amount_in_db(platform, deal["id"]) == Decimal("120000.00")
    assert crm.admin.get(f"/api/records/deal/{deal['id']}").get_json()["title"] == "Acme ERP"  # nothing changed

    # The amount is visible to them, and a form posting it back unchanged is not a change.
    r = crm.as_("sam", "PATCH", f"/api/records/deal/{deal['id']}", json={"amount": Decimal("120000"), "title": "Acme ERP v2"})
    assert r.status_code == 200 and r.get_json()["amount"] == Decimal("120000.00")
    # Service staff may not create deals nor delete customers.
    assert crm.as_("sam", "POST", "/api/records/deal", json={"title": "x"}).status_code == 403
    assert crm.as_("sam", "DELETE", f"/api/records/customer/{customer['id']}").status_code == 403


def test_without_the_administrator_flag_definitions_cannot_change(crm):
    revision = crm.admin.get("/api/meta/revisions").get_json()["items"][0]["revision"]
    for method, url, body in [("POST", "/api/meta/entities", {"key": "x", "label": "X", "fields": []}),
                              ("POST", "/api/meta/entities/customer/fields", {"key": "vip", "type": "boolean", "label": "VIP"}),
                              ("PATCH", "/api/meta/roles/sales", {"entities": {"customer": {"read": "all"}}}),
                              ("POST", "/api/meta/roles", {"key": "boss", "label": "Boss", "admin": True}),
                              ("DELETE", "/api/meta/roles/service", None)]:
        r = crm.as_("mia", method, url, json=body)
        assert r.status_code == 403, (method, url, r.get_json())
        assert r.get_json()["errors"][0]["message"] == "only administrators change definitions"
    assert crm.admin.get("/api/meta/revisions").get_json()["items"][0]["revision"] == revision
    # A role with the administrator flag is enough.
    crm.user("dora", "designer")
    r = crm.as_("dora", "POST", "/api/meta/entities/customer/fields", json={"key": "vip", "type": "boolean", "label": "VIP"})
    assert r.status_code == 201, r.get_json()


# ---- owners ----------------------------------------------------------------------------------------

def test_the_creator_owns_a_record_unless_a_permitted_user_assigns_another(crm):
    r = crm.as_("alice", "POST", "/api/records/customer", json={"name": "A", "owner_id": crm.ids["bob"]})
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "owner_id"
    assert crm.admin.get("/api/records/customer").get_json()["total"] == 0
    # Naming oneself is fine.
    assert crm.as_("alice", "POST", "/api/records/customer",
                   json={"name": "A", "owner_id": crm.ids["alice"]}).status_code == 201
    # A manager hands out records.
    r = crm.as_("mia", "POST", "/api/records/customer", json={"name": "B", "owner_id": crm.ids["bob"]})
    assert r.status_code == 201 and r.get_json()["owner_id"] == crm.ids["bob"]
    assert [c["name"] for c in crm.as_("bob", "GET", "/api/records/customer").get_json()["items"]] == ["B"]
    # Alice may not give her own customer away (update scope own); the manager may.
    mine = crm.as_("alice", "GET", "/api/records/customer").get_json()["items"][0]
    r = crm.as_("alice", "PATCH", f"/api/records/customer/{mine['id']}", json={"owner_id": crm.ids["bob"]})
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "owner_id"
    r = crm.as_("mia", "PATCH", f"/api/records/customer/{mine['id']}", json={"owner_id": crm.ids["bob"]})
    assert r.status_code == 200
    assert crm.as_("alice", "GET", f"/api/records/customer/{mine['id']}").status_code == 404


def test_bulk_creates_check_every_row_and_change_nothing_when_one_is_refused(crm):
    rows = [{"name": "One"}, {"name": "Two", "owner_id": crm.ids["bob"]}]
    r = crm.as_("alice", "POST", "/api/records/customer/bulk", json={"records": rows})
    assert r.status_code == 403
    assert r.get_json()["errors"][0] | {} == {"field": "owner_id", "code": "forbidden", "row": 1,
                                              "message": "you may not give customer records to another owner"}
    assert crm.admin.get("/api/records/customer").get_json()["total"] == 0
    r = crm.as_("alice", "POST", "/api/records/customer/bulk", json={"records": [{"name": "One"}, {"name": "Two"}]})
    assert r.status_code == 201
    owners = {c["owner_id"] for c in crm.admin.get("/api/records/customer").get_json()["items"]}
    assert owners == {crm.ids["alice"]}


# ---- fields a user may not read ---------------------------------------------------------------------

def test_hidden_fields_are_absent_everywhere_and_cannot_be_probed(crm):
    customer = crm.admin.post("/api/records/customer", json={"name": "Initech", "notes": "secret discount 30%"}).get_json()
    deal = crm.admin.post("/api/records/deal", json={"title": "Initech CRM", "customer": customer["id"],
                                                     "amount": Decimal("5000.00")}).get_json()
    crm.admin.patch(f"/api/records/deal/{deal['id']}", json={"amount": Decimal("6000.00"), "title": "Initech CRM+"})

    got = crm.as_("ann", "GET", f"/api/records/deal/{deal['id']}").get_json()
    assert "amount" not in got and got["title"] == "Initech CRM+"
    assert all("amount" not in d for d in crm.as_("ann", "GET", "/api/records/deal").get_json()["items"])
    assert "notes" not in crm.as_("ann", "GET", f"/api/records/customer/{customer['id']}").get_json()

    # Filtering, sorting or searching by a hidden field would reveal it.
    for query in ["filter[amount][gt]=100", "sort=-amount"]:
        r = crm.as_("ann", "GET", f"/api/records/deal?{query}")
        assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "amount", query
    assert crm.as_("ann", "GET", "/api/records/customer?q=discount").get_json()["total"] == 0
    assert crm.admin.get("/api/records/customer?q=discount").get_json()["total"] == 1

    # Writing it, even with the stored value, is refused (a match would reveal the value).
    r = crm.as_("ann", "PATCH", f"/api/records/deal/{deal['id']}", json={"amount": Decimal("6000.00")})
    assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == "amount"
    r = crm.as_("ann", "PATCH", f"/api/records/deal/{deal['id']}", json={"title": "Initech CRM 2"})
    assert r.status_code == 200 and "amount" not in r.get_json()

    # The audit trail leaves out changes to it; the pipeline figures leave out its totals.
    history = crm.as_("ann", "GET", f"/api/records/deal/{deal['id']}/history").get_json()["items"]
    assert history and all("amount" not in h["changes"] for h in history)
    assert any("amount" in h["changes"] for h in crm.admin.get(f"/api/records/deal/{deal['id']}/history").get_json()["items"])
    summary = crm.as_("ann", "GET", "/api/pipelines/sales/summary")
    assert summary.status_code == 200 and all("amount" not in s for s in summary.get_json()["stages"])
    assert crm.as_("ann", "GET", "/api/pipelines/sales/summary?amount=amount").status_code == 403


def test_pipeline_figures_count_only_readable_records(crm):
    for who, title in [("alice", "A1"), ("alice", "A2"), ("bob", "B1")]:
        assert crm.as_(who, "POST", "/api/records/deal", json={"title": title, "stage": "first_contact",
                                                              "amount": Decimal("10.00")}).status_code == 201
    stage = lambda who: crm.as_(who, "GET", "/api/pipelines/sales/summary").get_json()["stages"][0]  # noqa: E731
    assert (stage("alice")["count"], stage("alice")["entered"], stage("alice")["amount"]) == (2, 2, Decimal("20.00"))
    assert (stage("mia")["count"], stage("mia")["amount"]) == (3, Decimal("30.00"))
    bobs = crm.as_("bob", "GET", "/api/records/deal").get_json()["items"][0]["id"]
    assert crm.as_("alice", "GET", f"/api/records/deal/{bobs}/stage-history").status_code == 404
    assert crm.as_("bob", "GET", f"/api/records/deal/{bobs}/stage-history").status_code == 200


def test_a_user_without_roles_reaches_no_records(crm):
    crm.admin.post("/api/records/customer", json={"name": "A"})
    for method, url, body in [("GET", "/api/records/customer", None), ("POST", "/api/records/customer", {"name": "B"}),
                              ("GET", "/api/records/customer/1", None), ("PATCH", "/api/records/customer/1", {"name": "C"})]:
        r = crm.as_("clerk", method, url, json=body)
        assert r.status_code == 403, (method, url)
        assert r.get_json()["errors"][0]["message"].startswith("you may not")
    assert crm.admin.get("/api/records/customer/1").get_json()["name"] == "A"


def test_roles_add_up(crm):
    crm.user("eve", "sales", "service")  # her own customers to change, everyone's to see
    crm.as_("bob", "POST", "/api/records/customer", json={"name": "Bob's"})
    assert crm.as_("eve", "GET", "/api/records/customer").get_json()["total"] == 1
    assert crm.as_("eve", "POST", "/api/records/deal", json={"title": "Eve's", "amount": Decimal("1.00")}).status_code == 201
    # sales lets her write amounts of her own deals, service forbids amounts: each right is the widest granted.
    mine = crm.as_("eve", "GET", "/api/records/deal").get_json()["items"][0]
    assert crm.as_("eve", "PATCH", f"/api/records/deal/{mine['id']}", json={"amount": Decimal("2.00")}).status_code == 200


def test_changing_roles_takes_effect_at_once(crm):
    crm.as_("bob", "POST", "/api/records/customer", json={"name": "Bob's"})
    assert crm.as_("alice", "GET", "/api/records/customer").get_json()["total"] == 0
    r = crm.admin.patch("/api/meta/roles/sales", json={"entities": {"customer": {**OWN, "read": "all"}, "deal": OWN}})
    assert r.status_code == 200, r.get_json()
    assert crm.as_("alice", "GET", "/api/records/customer").get_json()["total"] == 1
    assert crm.admin.delete("/api/meta/roles/sales").status_code == 200  # archived: it grants nothing
    assert crm.as_("alice", "GET", "/api/records/customer").status_code == 403


# ---- role definitions ------------------------------------------------------------------------------

def test_role_definitions_are_listed_and_read(crm):
    listed = crm.admin.get("/api/meta/roles").get_json()["items"]
    assert {r["key"] for r in listed} == {r["key"] for r in ROLES}
    got = crm.admin.get("/api/meta/roles/service").get_json()
    assert got["entities"]["deal"]["fields"] == {"amount": {"write": False}} and got["archived"] is False
    assert crm.admin.get("/api/meta/roles/nobody").status_code == 404
    assert crm.as_("alice", "GET", "/api/meta/roles").status_code == 200


@pytest.mark.parametrize("role, field, code", [
    ({"key": "r", "label": "R", "entities": {"ghost": {"read": "all"}}}, "entities.ghost", "invalid"),
    ({"key": "r", "label": "R", "entities": {"deal": {"read": "all", "fields": {"ghost": {"read": False}}}}},
     "entities.deal.fields.ghost", "invalid"),
    ({"key": "r", "label": "R", "entities": {"deal": {"fields": {"amount": {"read": False, "write": True}}}}},
     "entities.deal.fields.amount", "invalid"),
    ({"key": "r", "label": "R", "entities": {"deal": {"read": "some"}}}, "entities.deal.read", "enum"),
    ({"key": "r", "label": "R", "entities": {"deal": {"approve": "all"}}}, "entities.deal", "additionalProperties"),
    ({"key": "r", "label": "R", "entities": {"*": {"read": "all", "fields": {"amount": {"read": False}}}}},
     "entities.*.fields", "invalid"),
    ({"key": "R!", "label": "R"}, "key", "pattern"),
    ({"key": "r", "label": "R", "admin": "yes"}, "admin", "type"),
    ({"label": "R"}, None, "required"),
])
def test_bad_role_definitions_are_refused_naming_the_path(crm, role, field, code):
    r = crm.admin.post("/api/meta/roles", json=role)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert any(e["field"] == field and e["code"] == code for e in errors), errors
    assert crm.admin.get("/api/meta/roles/r").status_code == 404


def test_a_field_a_role_restricts_cannot_be_renamed_from_under_it(crm):
    r = crm.admin.post("/api/meta/entities/deal/fields/amount/rename", json={"new_key": "value"})
    assert r.status_code == 409, r.get_json()
    assert [e["message"] for e in r.get_json()["errors"]] == [
        "role 'assistant' has a rule for field 'amount': change the role first",
        "role 'service' has a rule for field 'amount': change the role first"]
    assert crm.admin.get("/api/meta/entities/deal").get_json()["fields"][2]["key"] == "amount"


def test_duplicate_role_is_a_conflict(crm):
    before = crm.admin.get("/api/meta/roles/sales").get_json()
    revisions = crm.admin.get("/api/meta/revisions").get_json()["items"]
    r = crm.admin.post("/api/meta/roles", json={"key": "sales", "label": "Again"})
    assert r.status_code == 409
    assert r.get_json()["errors"][0]["field"] == "key" and "sales" in r.get_json()["errors"][0]["message"]
    # nothing changed: the role keeps its label and rights, no revision was made, Alice still sees her records
    assert crm.admin.get("/api/meta/roles/sales").get_json() == before
    assert crm.admin.get("/api/meta/revisions").get_json()["items"] == revisions
    assert crm.as_("alice", "POST", "/api/records/customer", json={"name": "Still sales"}).status_code == 201


# ---- users, for administrators ---------------------------------------------------------------------

def test_administrators_manage_users_and_roles_take_effect(crm):
    r = crm.admin.post("/api/users", json={"username": "lily", "password": "lily-password", "roles": ["sales"]})
    assert r.status_code == 201, r.get_json()
    lily = r.get_json()
    assert lily["roles"] == ["sales"] and lily["is_admin"] is False and "password_hash" not in lily
    token = crm.admin.post("/api/auth/token", json={"username": "lily", "password": "lily-password"},
                           headers={"Authorization": None}).get_json()["token"]
    as_lily = {"Authorization": f"Bearer {token}"}
    crm.as_("bob", "POST", "/api/records/customer", json={"name": "Bob's"})
    assert crm.admin.get("/api/records/customer", headers=as_lily).get_json()["total"] == 0

    r = crm.admin.patch(f"/api/users/{lily['id']}", json={"roles": ["service"]})
    assert r.status_code == 200 and r.get_json()["roles"] == ["service"]
    assert crm.admin.get("/api/records/customer", headers=as_lily).get_json()["total"] == 1

    # Deactivating revokes her tokens at once.
    assert crm.admin.patch(f"/api/users/{lily['id']}", json={"active": False}).status_code == 200
    assert crm.admin.get("/api/records/customer", headers=as_lily).status_code == 401
    assert [u["username"] for u in crm.admin.get("/api/users").get_json()["items"]][:2] == ["admin", "alice"]


@pytest.mark.parametrize("method, url, body, field, status", [
    ("POST", "/api/users", {"username": "x", "password": "short"}, "password", 422),
    ("POST", "/api/users", {"username": "x"}, "password", 422),
    ("POST", "/api/users", {"username": "x", "password": "long-enough", "roles": ["ghost"]}, "roles", 422),
    ("POST", "/api/users", {"username": "x", "password": "long-enough", "roles": "sales"}, "roles", 422),
    ("POST", "/api/users", {"username": "x", "password": "long-enough", "is_admin": "yes"}, "is_admin", 422),
    ("POST", "/api/users", {"username": "alice", "password": "long-enough"}, "username", 409),
    ("PATCH", "/api/users/2", {"roles": ["ghost"]}, "roles", 422),
    ("PATCH", "/api/users/2", {"username": "renamed"}, "username", 422),
    ("PATCH", "/api/users/2", {"active": "no"}, "active", 422),
    ("PATCH", "/api/users/999", {"active": False}, None, 404),
])
def test_bad_user_changes_are_refused(crm, method, url, body, field, status):
    r = crm.admin.open(url, method=method, json=body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field
    assert crm.admin.get("/api/users/2").get_json()["roles"] == ["sales"]


def test_only_administrators_manage_users(crm):
    assert crm.as_("mia", "GET", "/api/users").status_code == 403
    assert crm.as_("mia", "PATCH", f"/api/users/{crm.ids['mia']}", json={"is_admin": True}).status_code == 403
    assert crm.admin.get(f"/api/users/{crm.ids['mia']}").get_json()["is_admin"] is False
