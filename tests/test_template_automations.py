"""The templates carry their automation rules, and the rules work on an installed template (SQLite and
PostgreSQL): B2B service requests go round-robin to the service team, a quote untouched for 7 days gets
a task, a dormant company's owner is told; education reminds of a trial lesson the day before;
e-commerce tags the customer of a big order VIP and tells the order's owner."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from crm_platform.bundles import importer, templates
from crm_platform.clock import utcnow
from crm_platform.runtime.automation import timed
from crm_platform.tables import notifications


def install(platform, name):
    importer.run(platform, templates.load(name), actor="test")


def told(platform, user_id):
    with platform.engine.connect() as conn:
        return conn.execute(sa.select(notifications.c.title).where(notifications.c.user_id == user_id)
                            .order_by(notifications.c.id)).scalars().all()


def choice(name, entity, field):
    """The first choice of a select field of a template's entity."""
    doc = next(e for e in templates.load(name)["definitions"]["entity"] if e["key"] == entity)
    return next(f for f in doc["fields"] if f["key"] == field)["choices"][0]["key"]


def run_time(platform, now=None):
    return timed.run_due(platform.engine, platform.runtime, platform.records, now or utcnow())


def test_every_template_carries_automations():
    keys = {name: sorted(a["key"] for a in templates.load(name)["definitions"].get("automation", []))
            for name in ("b2b", "education", "ecommerce")}
    assert keys == {"b2b": ["dormant_company", "quote_untouched", "route_service_requests"],
                    "education": ["renewal_follow_up", "trial_lesson_reminder"],
                    "ecommerce": ["big_order_vip"]}


def test_b2b_service_requests_round_robin_and_a_quiet_quote_gets_a_task(platform, client):
    install(platform, "b2b")
    ann = platform.users.create("ann", "ann-password-1", roles=["service"])
    bob = platform.users.create("bob", "bob-password-1", roles=["service"])
    company = client.post("/api/records/company", json={"name": "Acme", "industry": "it", "size": "s"},
                          headers={"X-Change-Reason": "new"}).get_json()
    owners = []
    for n in range(3):
        r = client.post("/api/records/service_request", json={"title": f"Broken {n}", "request_type":
                                                                             choice("b2b", "service_request", "request_type"),
                        "company": company["id"]})
        assert r.status_code == 201, r.get_json()
        owners.append(client.get(f"/api/records/service_request/{r.get_json()['id']}").get_json()["owner_id"])
    assert owners == [ann.id, bob.id, ann.id]
    assert told(platform, ann.id) == ["{\"en\": \"New service request: Broken 0\", \"zh\": \"新的服务请求：Broken 0\"}",
                                      "{\"en\": \"New service request: Broken 2\", \"zh\": \"新的服务请求：Broken 2\"}"]
    deal = client.post("/api/records/opportunity", json={"name": "Deal", "company": company["id"], "stage": "quote",
                                                         "amount": "1000"}).get_json()
    table = platform.runtime.current().entities["opportunity"].table
    with platform.engine.begin() as conn:
        conn.execute(table.update().values(created_at=utcnow() - dt.timedelta(days=10)))
    run_time(platform)
    tasks = client.get("/api/records/task?per_page=100").get_json()["items"]
    assert [t["content"] for t in tasks if t["opportunity"] == deal["id"] and "无人跟进" in t["content"]] == [
        "跟进「Deal」的报价（已 7 天无人跟进）"]


def test_education_reminds_of_a_trial_lesson_the_day_before(platform, client):
    install(platform, "education")
    tomorrow = str(dt.date.today() + dt.timedelta(days=1))
    r = client.post("/api/records/student", json={"name": "小明", "age_group": choice("education", "student", "age_group"),
                                                  "course_type": choice("education", "student", "course_type"), "stage": "trial_lesson", "trial_on": tomorrow})
    assert r.status_code == 201, r.get_json()
    assert run_time(platform).startswith("trial_lesson_reminder 1")
    [title] = told(platform, r.get_json()["owner_id"])
    assert "小明 明天" in title


def test_ecommerce_tags_the_customer_of_a_big_order_vip(platform, client):
    install(platform, "ecommerce")
    customer = client.post("/api/records/customer", json={"name": "王芳", "first_channel": choice("ecommerce", "customer",
                                                                                                  "first_channel")}).get_json()
    for n, amount in enumerate(["300", "2500"]):
        r = client.post("/api/records/shop_order", json={"order_no": f"SO-{n}", "customer": customer["id"],
                                                         "amount": amount, "ordered_on": str(dt.date.today())})
        assert r.status_code == 201, r.get_json()
        labels = client.get(f"/api/records/customer/{customer['id']}").get_json()["labels"]
        assert labels == ([] if n == 0 else ["vip"])
    [title] = told(platform, r.get_json()["owner_id"])
    assert "SO-1" in title
