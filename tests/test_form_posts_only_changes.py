"""A form saved without a change writes nothing: the screens and the admin data views share one rule
for "the posted value is what the record holds" (``web.controls.unchanged``), so picked choices
in another order than they were stored in are no change on either."""
from __future__ import annotations

import pytest

from conftest import ADMIN_PASSWORD
from test_screens import Pages

CLUB = {"key": "club", "label": "Club", "title_field": "name", "fields": [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "days", "type": "multi_select", "label": "Days", "choices": [
        {"key": "mon", "label": "Monday"}, {"key": "wed", "label": "Wednesday"}, {"key": "fri", "label": "Friday"}]}]}


@pytest.fixture
def club(client):
    assert client.post("/api/meta/entities", json=CLUB).status_code == 201
    r = client.post("/api/records/club", json={"name": "Chess", "days": ["fri", "mon"]})
    assert r.status_code == 201, r.get_json()
    record = r.get_json()
    assert record["days"] == ["fri", "mon"]  # stored in the order sent, not the order of the choices
    return record


def history(client, record_id) -> list:
    return client.get(f"/api/records/club/{record_id}/history").get_json()["items"]


def test_saving_an_unchanged_screen_form_writes_nothing_and_a_change_writes_only_itself(app, client, club):
    pages = Pages(app)
    url = f"/app/club/{club['id']}/edit"
    # The form posts the boxes in the order of the choices: mon, fri.
    r = pages.post(url, data={"version": 1, "f-name": "Chess", "f-days": ["mon", "fri"]})
    assert r.status_code == 303
    after = client.get(f"/api/records/club/{club['id']}").get_json()
    assert after["version"] == 1 and after["days"] == ["fri", "mon"]
    assert [h["action"] for h in history(client, club["id"])] == ["create"]
    r = pages.post(url, data={"version": 1, "f-name": "Chess", "f-days": ["mon", "wed", "fri"]})
    assert r.status_code == 303
    assert history(client, club["id"])[0]["changes"] == {"days": [["fri", "mon"], ["mon", "wed", "fri"]]}


def test_saving_an_unchanged_admin_form_writes_nothing(client, club):
    assert client.post("/login", data={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 302
    r = client.post(f"/admin/records/club/edit/?id={club['id']}", data={"name": "Chess", "days": ["mon", "fri"]})
    assert r.status_code == 302
    assert client.get(f"/api/records/club/{club['id']}").get_json()["version"] == 1
    assert [h["action"] for h in history(client, club["id"])] == ["create"]
