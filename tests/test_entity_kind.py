"""Entities are one definition kind among the others: registered like them, changed through the one
service path, served by the one definitions API module (the public API is checked by test_meta_api)."""
from __future__ import annotations

import inspect

from crm_platform.metadata import service
from crm_platform.metadata.kinds import KINDS


def test_entity_is_a_registered_kind_beside_the_others():
    assert list(KINDS)[0] == "entity"
    assert {"entity", "taxonomy", "pipeline", "form", "role"} <= set(KINDS)


def test_the_metadata_service_has_no_path_of_its_own_for_entities():
    source = inspect.getsource(service)
    assert 'kind == "entity"' not in source
    for name in ("create_entity", "update_entity", "archive_entity", "restore_entity"):
        assert not hasattr(service.MetadataService, name)


def test_every_entity_endpoint_is_served_by_the_definitions_api(app):
    rules = [r for r in app.url_map.iter_rules() if "entities" in r.rule and r.rule.startswith("/api/meta/")]
    assert rules and {r.endpoint.split(".")[0] for r in rules} == {"definitions_api"}


def test_an_entity_is_created_archived_and_restored_like_a_taxonomy(client):
    r = client.post("/api/meta/entities", json={"key": "course", "label": "Course", "fields": []})
    assert r.status_code == 201 and r.get_json()["entity"]["key"] == "course"
    r = client.post("/api/meta/entities", json={"key": "course", "label": "Course", "fields": []})
    assert r.status_code == 409 and r.get_json()["errors"][0]["message"] == "an entity 'course' exists already"
    assert client.delete("/api/meta/entities/course").get_json()["entity"]["archived"] is True
    r = client.post("/api/meta/entities/course/restore")
    assert r.status_code == 200 and r.get_json()["entity"]["archived"] is False
