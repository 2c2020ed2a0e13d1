"""Reports over HTTP (SQLite and PostgreSQL): POST /api/reports/run and saved reports. Every figure
expected here is worked out by hand from the records the test writes, and every cell's link is
checked against the list it names: the list shows exactly the records the cell counts."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from crm_platform.tables import users as users_table  # noqa: F401  (the platform's own tables exist)

TAXONOMY = {"key": "segment", "label": "Segment", "tags": [
    {"key": "smb", "label": "SMB"},
    {"key": "enterprise", "label": "Enterprise"},
    {"key": "bank", "label": "Bank", "parent": "enterprise"},
    {"key": "retail", "label": "Retail", "parent": "enterprise"}]}
DEAL = {"key": "deal", "label": "Deal", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "required": True},
    {"key": "amount", "type": "decimal", "scale": 2},
    {"key": "seats", "type": "integer"},
    {"key": "source", "type": "select", "choices": [{"key": "web", "label": "Web"}, {"key": "fair", "label": "Fair"}]},
    {"key": "channels", "type": "multi_select", "choices": [{"key": "phone", "label": "Phone"},
                                                           {"key": "mail", "label": "Mail"}]},
    {"key": "segment", "type": "tags", "taxonomy": "segment"},
    {"key": "hot", "type": "boolean"},
    {"key": "closed_on", "type": "date"},
    {"key": "signed_at", "type": "datetime"},
    {"key": "stage", "type": "stage"},
]}
PIPELINE = {"key": "sales", "label": "Sales", "entity": "deal", "field": "stage", "amount_field": "amount", "stages": [
    {"key": "lead", "label": "Lead"}, {"key": "offer", "label": "Offer"},
    {"key": "won", "label": "Won", "category": "won"}, {"key": "lost", "label": "Lost", "category": "lost"}]}

RECORDS = [
    {"name": "a", "amount": "100.10", "seats": 1, "source": "web", "channels": ["phone", "mail"], "segment": ["bank"],
     "hot": True, "closed_on": "2026-01-31", "signed_at": "2026-01-31T20:00:00Z", "stage": "lead"},
    {"name": "b", "amount": "200.20", "seats": 5, "source": "web", "channels": ["phone"], "segment": ["enterprise", "retail"],
     "hot": False, "closed_on": "2026-02-01", "signed_at": "2026-02-01T10:00:00Z", "stage": "offer"},
    {"name": "c", "amount": "0.01", "seats": 12, "source": "fair", "channels": [], "segment": ["smb"],
     "hot": True, "closed_on": "2026-04-15", "signed_at": "2026-03-31T17:30:00Z", "stage": "lead"},
    {"name": "d", "amount": None, "seats": None, "source": None, "channels": None, "segment": [],
     "hot": None, "closed_on": None, "signed_at": None, "stage": "lead"},
]


@pytest.fixture
def deals(client):
    assert client.post("/api/meta/taxonomies", json=TAXONOMY).status_code == 201
    r = client.post("/api/meta/entities", json=DEAL)
    assert r.status_code == 201, r.get_json()
    assert client.post("/api/meta/pipelines", json=PIPELINE).status_code == 201
    for rec in RECORDS:
        r = client.post("/api/records/deal", json=rec)
        assert r.status_code == 201, r.get_json()
    return client


def run(client, definition, status=200, **kw):
    r = client.post("/api/reports/run", json=definition, **kw)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def listed(client, entity, link) -> set[str]:
    """The names the list behind a cell shows."""
    params = parse_qsl(link, keep_blank_values=True) + [("per_page", "500")]
    r = client.get(f"/api/records/{entity}", query_string=params)
    assert r.status_code == 200, r.get_json()
    return {x["name"] for x in r.get_json()["items"]}


def test_grouped_by_a_choice_with_count_and_exact_sum(deals):
    body = run(deals, {"entity": "deal", "group_by": ["source"], "measures": ["count", "sum:amount"]})
    assert body["columns"] == ["source", "count", "sum:amount"]
    # groups in the order of the choices (web, fair), the empty one last
    assert body["rows"] == [["web", 2, Decimal("300.30")], ["fair", 1, Decimal("0.01")], [None, 1, None]]
    assert [listed(deals, "deal", link) for link in body["links"]] == [{"a", "b"}, {"c"}, {"d"}]


def test_filters_are_the_list_filter_language(deals):
    body = run(deals, {"entity": "deal", "filters": {"stage": {"in": ["lead"]}, "seats": {"gte": 2}},
                       "measures": ["count", "avg:seats", "min:amount", "max:closed_on"]})
    assert body["rows"] == [[1, Decimal("12.00"), Decimal("0.01"), "2026-04-15"]]
    assert listed(deals, "deal", body["links"][0]) == {"c"}


def test_tags_roll_a_parent_up_over_its_descendants(deals):
    body = run(deals, {"entity": "deal", "group_by": ["segment"], "measures": ["count", "sum:seats"]})
    rows = {r[0]: r[1:] for r in body["rows"]}
    assert [r[0] for r in body["rows"]] == ["smb", "enterprise", "bank", "retail", None]  # the taxonomy's order
    # a (bank) and b (enterprise + retail) under enterprise, each once
    assert rows == {"bank": [1, 1], "enterprise": [2, 6], "retail": [1, 5], "smb": [1, 12], None: [1, None]}
    for row, link in zip(body["rows"], body["links"]):
        expected = {"bank": {"a"}, "enterprise": {"a", "b"}, "retail": {"b"}, "smb": {"c"}, None: {"d"}}[row[0]]
        assert listed(deals, "deal", link) == expected


def test_multi_select_counts_a_record_under_each_choice(deals):
    body = run(deals, {"entity": "deal", "group_by": ["channels"], "measures": ["count"]})
    assert body["rows"] == [["phone", 2], ["mail", 1], [None, 2]]
    assert [listed(deals, "deal", link) for link in body["links"]] == [{"a", "b"}, {"a"}, {"c", "d"}]


def test_two_group_bys_boolean_and_owner(deals):
    body = run(deals, {"entity": "deal", "group_by": ["hot", "owner_id"], "measures": ["count"]})
    d = next(x for x in deals.get("/api/records/deal").get_json()["items"] if x["name"] == "d")
    assert deals.patch(f"/api/records/deal/{d['id']}", json={"stage": "lost"}).status_code == 200
    stages = run(deals, {"entity": "deal", "group_by": ["stage"], "measures": ["count"]})
    assert stages["rows"] == [["lead", 2], ["offer", 1], ["lost", 1]]  # the pipeline's order, not the keys'
    body = run(deals, {"entity": "deal", "group_by": ["hot", "owner_id"], "measures": ["count"]})
    admin_id = deals.get("/api/auth/me").get_json()["id"] if deals.get("/api/auth/me").status_code == 200 else None
    owners = {r[1] for r in body["rows"]}
    assert len(owners) == 1 and (admin_id is None or owners == {admin_id})
    assert [[r[0], r[2]] for r in body["rows"]] == [[False, 1], [True, 2], [None, 1]]


def test_date_buckets_follow_the_users_time_zone(deals):
    utc = run(deals, {"entity": "deal", "group_by": ["signed_at:month"], "measures": ["count"]})
    assert utc["rows"] == [["2026-01-01", 1], ["2026-02-01", 1], ["2026-03-01", 1], [None, 1]]
    # at +08:00, a's 20:00Z on 31 January is already 1 February; c's 17:30Z on 31 March is 1 April
    east = run(deals, {"entity": "deal", "group_by": ["signed_at:month"], "measures": ["count"],
                       "time_zone": "Asia/Shanghai"})
    assert east["rows"] == [["2026-02-01", 2], ["2026-04-01", 1], [None, 1]]
    assert [listed(deals, "deal", link) for link in east["links"]] == [{"a", "b"}, {"c"}, {"d"}]
    fixed = run(deals, {"entity": "deal", "group_by": ["signed_at:quarter"], "measures": ["count"],
                        "time_zone": "+08:00"})
    assert fixed["rows"] == [["2026-01-01", 2], ["2026-04-01", 1], [None, 1]]


@pytest.mark.parametrize("bucket,expected", [
    ("day", [["2026-01-31", 1], ["2026-02-01", 1], ["2026-04-15", 1], [None, 1]]),
    ("week", [["2026-01-26", 1], ["2026-04-13", 1], [None, 1]]),  # 31 Jan (Sat) and 1 Feb (Sun) share a week
    ("month", [["2026-01-01", 1], ["2026-02-01", 1], ["2026-04-01", 1], [None, 1]]),
    ("quarter", [["2026-01-01", 2], ["2026-04-01", 1], [None, 1]]),
    ("year", [["2026-01-01", 3], [None, 1]]),
])
def test_date_buckets_of_a_date_field(deals, bucket, expected):
    body = run(deals, {"entity": "deal", "group_by": [f"closed_on:{bucket}"], "measures": ["count"]})
    if bucket == "week":
        expected = [["2026-01-26", 2], ["2026-04-13", 1], [None, 1]]
    assert body["rows"] == expected
    for row, link in zip(body["rows"], body["links"]):
        assert len(listed(deals, "deal", link)) == row[1]


def test_number_bands_sort_and_top_n(deals):
    body = run(deals, {"entity": "deal", "group_by": ["seats:bands:2,10"], "measures": ["count"]})
    assert body["rows"] == [["<2", 1], ["2-10", 1], [">=10", 1], [None, 1]]
    assert [listed(deals, "deal", link) for link in body["links"]] == [{"a"}, {"b"}, {"c"}, {"d"}]
    top = run(deals, {"entity": "deal", "group_by": ["source"], "measures": ["sum:seats"], "sort": ["-sum:seats"],
                      "limit": 1})
    assert top["rows"] == [["fair", 12]]


def test_relative_periods_resolve_to_list_bounds(deals):
    body = run(deals, {"entity": "deal", "filters": {"created_at": {"period": "last_7_days"}}, "measures": ["count"]})
    assert body["rows"] == [[4]]
    assert listed(deals, "deal", body["links"][0]) == {"a", "b", "c", "d"}
    body = run(deals, {"entity": "deal", "filters": {"closed_on": {"period": "last_year"}}, "measures": ["count"]})
    assert body["rows"] == [[0]]


@pytest.mark.parametrize("definition,field", [
    ({"entity": "nope", "measures": ["count"]}, "entity"),
    ({"entity": "deal", "group_by": ["nope"]}, "group_by.0"),
    ({"entity": "deal", "group_by": ["closed_on"]}, "group_by.0"),
    ({"entity": "deal", "group_by": ["closed_on:fortnight"]}, "group_by.0"),
    ({"entity": "deal", "group_by": ["source:month"]}, "group_by.0"),
    ({"entity": "deal", "measures": ["sum:source"]}, "measures.0"),
    ({"entity": "deal", "measures": ["median:amount"]}, "measures.0"),
    ({"entity": "deal", "filters": {"stage": {"in": ["nowhere"]}}}, "filters.stage.in"),
    ({"entity": "deal", "filters": {"name": {"period": "this_month"}}}, "filters.name.period"),
    ({"entity": "deal", "filters": {"closed_on": {"period": "next_week"}}}, "filters.closed_on.period"),
    ({"entity": "deal", "group_by": ["source"], "sort": ["-nope"]}, "sort.0"),
    ({"entity": "deal", "limit": 0}, "limit"),
    ({"entity": "deal", "time_zone": "Mars/Olympus"}, "time_zone"),
    ({"entity": "deal", "time_zone": 8}, "time_zone"),
    ({"entity": ["deal"]}, "entity"),
    ({"entity": "deal", "group_by": "source"}, "group_by"),
    ({"entity": "deal", "group_by": ["source", "hot", "stage"]}, "group_by"),
    ({"entity": "deal", "measures": "count"}, "measures"),
    ({"entity": "deal", "filters": ["stage"]}, "filters"),
    ({"entity": "deal", "filters": {"stage": "won"}}, "filters.stage"),
    ({"entity": "deal", "filters": {"stage": {"eq": {"x": 1}}}}, "filters.stage.eq"),
    ({"entity": "deal", "filters": {"stage": {"eq": ["won", "lost"]}}}, "filters.stage.eq"),
    ({"entity": "deal", "filters": {"hot": {"is_empty": "yes"}}}, "filters.hot.is_empty"),
    ({"entity": "deal", "group_by": ["seats:bands:5,2"]}, "group_by.0"),
    ({"entity": "deal", "group_by": ["seats:bands:x"]}, "group_by.0"),
    ({"entity": "deal", "limit": True}, "limit"),
    ({"type": ["funnel"], "entity": "deal"}, "type"),
    ({"type": "funnel", "pipeline": "nope"}, "pipeline"),
    ({"type": "funnel", "pipeline": "sales", "filters": {"stage": {"eq": "lost"}}}, "filters.stage"),
    ({"type": "conversion", "pipeline": "sales", "dimension": 5}, "dimension"),
    ({"type": "conversion", "pipeline": "sales", "dimension": "source", "reached": ["nowhere"]}, "reached"),
    ({"type": "effort", "pipeline": "sales", "related": ["note"]}, "related"),
])
def test_a_bad_definition_is_refused_naming_the_field(deals, definition, field):
    r = deals.post("/api/reports/run", json=definition)
    assert r.status_code in (400, 422), r.get_json()
    assert field in [e["field"] for e in r.get_json()["errors"]], r.get_json()


def test_csv_and_xlsx(deals):
    r = deals.post("/api/reports/run?format=csv", json={"entity": "deal", "group_by": ["source"], "measures": ["count"]})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).lstrip("\ufeff").splitlines() == ["source,count", "web,2", "fair,1", ",1"]
    r = deals.post("/api/reports/run?format=xlsx", json={"entity": "deal", "group_by": ["source"], "measures": ["count"]})
    assert r.status_code == 200
    from io import BytesIO
    from openpyxl import load_workbook
    sheet = load_workbook(BytesIO(r.data)).active
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["source", "count"], ["web", 2], ["fair", 1], [None, 1]]


def test_a_list_of_records_with_no_choice_in_a_multi_select(deals):
    """Was a 500 on PostgreSQL: a record saved with the field null holds JSON null, and
    jsonb_array_length refused it."""
    assert listed(deals, "deal", "filter[channels][is_empty]") == {"c", "d"}
    assert listed(deals, "deal", "filter[channels][is_not_empty]") == {"a", "b"}


def test_a_cell_links_to_the_list_screen_showing_its_records(deals, app):
    from test_screens import Pages
    pages = Pages(app)
    body = run(deals, {"entity": "deal", "group_by": ["source"], "measures": ["count"]})
    ids = {x["name"]: x["id"] for x in deals.get("/api/records/deal").get_json()["items"]}
    import re
    for row, link in zip(body["rows"], body["links"]):
        page = pages.get(f"/app/deal?{link}")
        assert page.status_code == 200
        shown = {int(i) for i in re.findall(r'href="/app/deal/(\d+)"', page.get_data(as_text=True))}
        expected = {"fair": {"c"}, "web": {"a", "b"}, None: {"d"}}[row[0]]
        assert shown == {ids[n] for n in expected}, (row, link)


SAVED = {"key": "by_source", "label": {"en": "Deals by source", "zh": "按来源"}, "entity": "deal",
         "group_by": ["source"], "measures": ["count", "sum:amount"], "chart": "bar"}


def test_a_saved_report_is_a_definition_and_answers_the_same_shape(deals):
    r = deals.post("/api/meta/reports", json=SAVED)
    assert r.status_code == 201, r.get_json()
    assert deals.get("/api/meta/reports/by_source").get_json()["group_by"] == ["source"]
    data = deals.get("/api/reports/by_source/data").get_json()
    assert data["columns"] == ["source", "count", "sum:amount"]
    assert data["rows"] == run(deals, {k: v for k, v in SAVED.items() if k not in ("key", "label", "chart")})["rows"]
    assert data["report"]["key"] == "by_source"
    assert [i["key"] for i in deals.get("/api/reports").get_json()["items"]] == ["by_source"]
    csv_text = deals.get("/api/reports/by_source/data?format=csv").get_data(as_text=True)
    assert csv_text.lstrip("\ufeff").splitlines()[2] == "fair,1,0.01"
    # a definition naming what does not exist is refused, naming the field, and nothing is stored
    bad = deals.post("/api/meta/reports", json={**SAVED, "key": "bad", "group_by": ["nothing"]})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "group_by.0"
    assert deals.get("/api/meta/reports/bad").status_code == 404
    # a dashboard shows it; the report cannot be archived under it
    dash = {"key": "sales", "label": "Sales", "widgets": [{"report": "by_source", "width": 6}]}
    assert deals.post("/api/meta/dashboards", json=dash).status_code == 201
    assert deals.delete("/api/meta/reports/by_source").status_code == 409
    assert deals.get("/api/dashboards").get_json()["items"][0]["key"] == "sales"
    assert deals.post("/api/meta/dashboards", json={**dash, "key": "x", "widgets": [{"report": "none"}]}).status_code == 422


def test_a_restricted_user_sees_figures_of_their_own_records_only(deals, app):
    role = {"key": "seller", "label": "Seller", "entities": {
        "deal": {"read": "own", "create": "own", "update": "own", "fields": {"seats": {"read": False}}}}}
    assert deals.post("/api/meta/roles", json=role).status_code == 201
    users = app.extensions["crm"].users
    token = users.issue_token(users.create("sam", "sam-password", roles=["seller"]))
    sam = {"Authorization": f"Bearer {token}"}
    for rec in ({"name": "s1", "amount": "5.00", "source": "web", "stage": "lead"},
                {"name": "s2", "amount": "7.50", "source": "fair", "stage": "offer"}):
        assert deals.post("/api/records/deal", json=rec, headers=sam).status_code == 201
    body = run(deals, {"entity": "deal", "group_by": ["source"], "measures": ["count", "sum:amount"]}, headers=sam)
    assert body["rows"] == [["web", 1, Decimal("5.00")], ["fair", 1, Decimal("7.50")]]
    for link, names in zip(body["links"], [{"s1"}, {"s2"}]):
        r = deals.get("/api/records/deal", query_string=parse_qsl(link, keep_blank_values=True), headers=sam)
        assert {x["name"] for x in r.get_json()["items"]} == names
    # a hidden field can be neither measured, grouped nor filtered by
    for definition, field in (({"entity": "deal", "measures": ["sum:seats"]}, "seats"),
                              ({"entity": "deal", "group_by": ["seats:bands:5"]}, "seats"),
                              ({"entity": "deal", "filters": {"seats": {"gt": 1}}}, "seats")):
        r = deals.post("/api/reports/run", json=definition, headers=sam)
        assert r.status_code == 403 and r.get_json()["errors"][0]["field"] == field
    # no right to read the entity at all: 403
    nobody = {"Authorization": f"Bearer {users.issue_token(users.create('nob', 'nob-password'))}"}
    assert deals.post("/api/reports/run", json={"entity": "deal"}, headers=nobody).status_code == 403


def test_the_funnel_report_is_the_pipeline_summary_over_the_filtered_records(deals):
    ids = {x["name"]: x["id"] for x in deals.get("/api/records/deal").get_json()["items"]}
    for name, stage in (("a", "offer"), ("a", "won"), ("b", "lost")):
        assert deals.patch(f"/api/records/deal/{ids[name]}", json={"stage": stage}).status_code == 200
    body = run(deals, {"type": "funnel", "pipeline": "sales"})
    assert body["columns"] == ["stage", "count", "amount", "entered", "conversion", "overall_conversion", "avg_days"]
    summary = {s["key"]: s for s in deals.get("/api/pipelines/sales/summary").get_json()["stages"]}
    for row in body["rows"]:
        s = summary[row[0]]
        assert row[1:6] == [s["count"], s["amount"], s["entered"], s["conversion"], s["overall_conversion"]]
    rows = {r[0]: r for r in body["rows"]}
    # entered: lead a, c, d (b was created in offer); offer a, b; won a; lost b. Four records in all.
    assert {k: r[3] for k, r in rows.items()} == {"lead": 3, "offer": 2, "won": 1, "lost": 1}
    assert rows["lead"][4] == Decimal("0.3333")        # a went on; c, d stay
    assert rows["offer"][4] == Decimal("0.5")          # a went on to won, b was lost
    # overall: reached lead = everyone who reached any open/won stage at or after it (a, b, c, d)
    assert [rows[k][5] for k in ("lead", "offer", "won", "lost")] == [1, Decimal("0.5"), Decimal("0.25"), Decimal("0.25")]
    assert all(0 <= r[4] <= 1 for r in body["rows"] if r[4] is not None)
    # filtered: only the web deals (a, b)
    web = {r[0]: r for r in run(deals, {"type": "funnel", "pipeline": "sales", "filters": {"source": {"eq": "web"}}})["rows"]}
    assert {k: r[3] for k, r in web.items()} == {"lead": 1, "offer": 2, "won": 1, "lost": 1}
    assert web["won"][2] == Decimal("100.10")


def test_conversion_by_a_dimension(deals):
    ids = {x["name"]: x["id"] for x in deals.get("/api/records/deal").get_json()["items"]}
    assert deals.patch(f"/api/records/deal/{ids['a']}", json={"stage": "won"}).status_code == 200
    assert deals.patch(f"/api/records/deal/{ids['c']}", json={"stage": "won"}).status_code == 200
    assert deals.patch(f"/api/records/deal/{ids['c']}", json={"stage": "offer"}).status_code == 200  # reached won once
    body = run(deals, {"type": "conversion", "pipeline": "sales", "dimension": "source",
                       "filters": {"created_at": {"period": "this_year"}}})
    assert body["columns"] == ["source", "count", "won", "conversion"]
    assert body["rows"] == [["web", 2, 1, Decimal("0.5")], ["fair", 1, 1, 1], [None, 1, 0, 0]]
    assert [listed(deals, "deal", link) for link in body["links"]] == [{"a", "b"}, {"c"}, {"d"}]


def test_effort_counts_related_records_and_days_to_close_of_won_records(deals, app):
    note = {"key": "note", "label": "Note", "fields": [{"key": "text", "type": "text"},
                                                       {"key": "deal", "type": "reference", "target": "deal"}]}
    assert deals.post("/api/meta/entities", json=note).status_code == 201
    ids = {x["name"]: x["id"] for x in deals.get("/api/records/deal").get_json()["items"]}
    for name in ("a", "a", "a", "b", "c"):
        assert deals.post("/api/records/note", json={"text": "x", "deal": ids[name]}).status_code == 201
    for name in ("a", "c"):
        assert deals.patch(f"/api/records/deal/{ids[name]}", json={"stage": "won"}).status_code == 200
    # the won move of a happened two days after a was created; c's half a day after
    from crm_platform.tables import stage_history
    import datetime as dt
    import sqlalchemy as sa
    engine = app.extensions["crm"].engine
    with engine.begin() as conn:
        for name, hours in (("a", 48), ("c", 12)):
            created = conn.execute(sa.text(f"SELECT created_at FROM ent_deal WHERE id = {ids[name]}")).scalar_one()
            created = created if isinstance(created, dt.datetime) else dt.datetime.fromisoformat(created)
            created = created.replace(tzinfo=created.tzinfo or dt.timezone.utc)
            conn.execute(stage_history.update().where(stage_history.c.record_id == ids[name], stage_history.c.to_stage == "won")
                         .values(moved_at=created + dt.timedelta(hours=hours)))
    body = run(deals, {"type": "effort", "pipeline": "sales", "related": {"entity": "note", "via": "deal"},
                       "dimension": "source"})
    assert body["columns"] == ["source", "won", "note", "note_per_won", "avg_days_to_close"]
    assert body["rows"] == [["web", 1, 3, 3, 2], ["fair", 1, 1, 1, Decimal("0.5")]]
    assert [listed(deals, "deal", link) for link in body["links"]] == [{"a"}, {"c"}]
    total = run(deals, {"type": "effort", "pipeline": "sales", "related": {"entity": "note", "via": "deal"}})
    assert total["rows"] == [[2, 4, 2, Decimal("1.25")]]


def test_a_saved_report_names_only_measures_its_fields_allow_and_pins_the_names_it_uses(deals):
    r = deals.post("/api/meta/reports", json={**SAVED, "key": "bad_sum", "measures": ["sum:source"]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "measures.0"
    assert deals.post("/api/meta/reports", json=SAVED).status_code == 201
    # renaming a field the report uses is refused, and nothing changes; another field renames freely
    r = deals.post("/api/meta/entities/deal/fields/source/rename", json={"new_key": "origin"})
    assert r.status_code == 409, r.get_json()
    assert "by_source" in r.get_json()["errors"][0]["message"]
    assert "source" in {f["key"] for f in deals.get("/api/meta/entities/deal").get_json()["fields"]}
    assert deals.get("/api/reports/by_source/data").status_code == 200
    assert deals.post("/api/meta/entities/deal/fields/seats/rename", json={"new_key": "places"}).status_code == 200


def test_every_field_type_groups_exactly_as_its_group_specs_say():
    """What a builder offers (group_specs) is what running accepts (grouping), for every type."""
    import datetime as dt

    import sqlalchemy as sa

    from crm_platform.metadata.field_types import REGISTRY, Invalid
    from crm_platform.metadata.field_types.grouping import BUCKETS, GroupContext

    link = sa.table("links", sa.column("record_id"), sa.column("tag"))
    for name, ftype in REGISTRY.items():
        field = {"key": "f", "type": name, "choices": [{"key": "a", "label": "A"}], "taxonomy": "t",
                 "target": "x", "_descendants": {"a": ["a"]}, "_stages": ["a"]}
        ctx = GroupContext("sqlite", dt.timezone.utc, extra={"record_id": sa.column("id")})
        offered = ftype.group_specs(field)
        for spec in (None, *BUCKETS, "bands"):
            arg = "bands:1,2" if spec == "bands" else spec
            try:
                ftype.grouping(field, None if ftype.link_stored else sa.column("f"), arg, ctx, link)
                accepted = True
            except Invalid:
                accepted = False
            assert accepted == (spec in offered), (name, spec)


@pytest.mark.parametrize("name,start,end", [
    ("today", "2026-03-04", "2026-03-05"),
    ("yesterday", "2026-03-03", "2026-03-04"),
    ("this_week", "2026-03-02", "2026-03-09"),      # 4 March 2026 is a Wednesday
    ("last_week", "2026-02-23", "2026-03-02"),
    ("this_month", "2026-03-01", "2026-04-01"),
    ("last_month", "2026-02-01", "2026-03-01"),
    ("this_quarter", "2026-01-01", "2026-04-01"),
    ("last_quarter", "2025-10-01", "2026-01-01"),
    ("this_year", "2026-01-01", "2027-01-01"),
    ("last_year", "2025-01-01", "2026-01-01"),
    ("last_7_days", "2026-02-26", "2026-03-05"),
    ("last_2_weeks", "2026-02-23", "2026-03-09"),
    ("last_3_months", "2026-01-01", "2026-04-01"),
    ("last_2_quarters", "2025-10-01", "2026-04-01"),
    ("last_2_years", "2025-01-01", "2027-01-01"),
    ("before_today", None, "2026-03-04"),
    ("from_today", "2026-03-04", None),
])
def test_relative_periods_are_local_days(name, start, end):
    import datetime as dt

    from crm_platform.runtime.reports import period_days
    got = period_days(name, dt.date(2026, 3, 4))
    assert got == (start and dt.date.fromisoformat(start), end and dt.date.fromisoformat(end))


def test_a_cell_of_a_date_bucket_inside_a_period_links_to_the_tighter_bounds(deals):
    """The period's gte and the month's gte are one parameter in the link: the later of the two."""
    body = run(deals, {"entity": "deal", "filters": {"closed_on": {"gte": "2026-01-15", "lt": "2026-04-10"}},
                       "group_by": ["closed_on:month"], "measures": ["count"]})
    assert body["rows"] == [["2026-01-01", 1], ["2026-02-01", 1]]
    first = dict(parse_qsl(body["links"][0]))
    assert first["filter[closed_on][gte]"] == "2026-01-15" and first["filter[closed_on][lt]"] == "2026-02-01"
    assert [listed(deals, "deal", link) for link in body["links"]] == [{"a"}, {"b"}]
    body = run(deals, {"entity": "deal", "filters": {"source": {"eq": "web"}}, "group_by": ["source"]})
    assert listed(deals, "deal", body["links"][0]) == {"a", "b"}
