"""The three-way merge behind bundle upgrades, on its own: no database needed."""
from __future__ import annotations

from crm_platform.bundles.merge import merge

BASE = {"key": "customer", "label": "Customer", "fields": [{"key": "name", "type": "text"},
                                                          {"key": "spend", "type": "decimal"}]}


def with_fields(doc, *fields, **attrs):
    return {**doc, **attrs, "fields": list(fields)}


def test_each_side_keeps_its_own_additions_and_the_local_order():
    local = with_fields(BASE, *BASE["fields"], {"key": "wechat", "type": "text"})
    incoming = with_fields(BASE, *BASE["fields"], {"key": "city", "type": "text"}, label="Client")
    merged, conflicts, notes = merge(BASE, local, incoming)
    assert [f["key"] for f in merged["fields"]] == ["name", "spend", "city", "wechat"]
    assert merged["label"] == "Client" and conflicts == []
    assert notes == {"kept_here": ["fields.wechat"], "from_bundle": ["label", "fields.city"]}


def test_a_side_that_did_not_change_takes_the_other_sides_list_whole():
    reordered = with_fields(BASE, *reversed(BASE["fields"]))
    assert merge(BASE, reordered, BASE)[0] == reordered  # the admin's order survives a re-install
    assert merge(BASE, BASE, reordered)[0] == reordered  # the bundle's new order arrives


def test_the_same_item_changed_on_both_sides_is_a_conflict_with_three_versions():
    local = with_fields(BASE, {"key": "name", "type": "text", "max_length": 50}, BASE["fields"][1])
    incoming = with_fields(BASE, {"key": "name", "type": "text", "max_length": 80}, BASE["fields"][1])
    merged, conflicts, _ = merge(BASE, local, incoming)
    assert conflicts == [{"path": "fields.name", "local": local["fields"][0], "incoming": incoming["fields"][0],
                          "installed": BASE["fields"][0], "resolution": "unresolved"}]
    assert merged == local  # unresolved: nothing of the local version is lost
    assert merge(BASE, local, incoming, resolve="take-incoming")[0] == incoming
    assert merge(BASE, local, incoming, resolve="keep-local")[0] == local


def test_an_item_removed_by_the_bundle_goes_unless_changed_here():
    incoming = with_fields(BASE, BASE["fields"][0])
    assert [f["key"] for f in merge(BASE, BASE, incoming)[0]["fields"]] == ["name"]
    changed = with_fields(BASE, BASE["fields"][0], {"key": "spend", "type": "decimal", "scale": 2})
    merged, conflicts, _ = merge(BASE, changed, incoming)
    assert conflicts[0]["path"] == "fields.spend" and conflicts[0]["incoming"] is None
    assert [f["key"] for f in merged["fields"]] == ["name", "spend"]


def test_without_a_base_additions_merge_and_differences_conflict():
    ours = {"key": "task", "label": "Task", "fields": [{"key": "content", "type": "text"},
                                                      {"key": "customer", "type": "reference", "target": "customer"}]}
    theirs = {"key": "task", "label": "Task", "fields": [{"key": "content", "type": "text"},
                                                        {"key": "student", "type": "reference", "target": "student"}]}
    merged, conflicts, notes = merge(None, ours, theirs)
    assert [f["key"] for f in merged["fields"]] == ["content", "student", "customer"] and conflicts == []
    assert notes == {"kept_here": ["fields.customer"], "from_bundle": ["fields.student"]}
    _, conflicts, _ = merge(None, ours, {**theirs, "label": "To-do"})
    assert conflicts[0]["path"] == "label" and "installed" not in conflicts[0]


def test_objects_merge_key_by_key():
    base = {"key": "sales", "label": "Sales", "entities": {"customer": {"read": "own"}}}
    local = {**base, "entities": {"customer": {"read": "own"}, "invoice": {"read": "all"}}}
    incoming = {**base, "entities": {"customer": {"read": "own", "update": "own"}}}
    merged, conflicts, _ = merge(base, local, incoming)
    assert merged["entities"] == {"customer": {"read": "own", "update": "own"}, "invoice": {"read": "all"}}
    assert conflicts == []


def test_a_field_archived_here_stays_archived_unless_the_bundle_changed_it():
    local = with_fields(BASE, BASE["fields"][0])
    archived = {"fields": {"spend"}}
    merged, conflicts, _ = merge(BASE, local, BASE, archived=archived)
    assert merged == local and conflicts == []
    changed = with_fields(BASE, BASE["fields"][0], {"key": "spend", "type": "decimal", "label": "Spend"})
    merged, conflicts, _ = merge(BASE, local, changed, archived=archived)
    assert conflicts[0]["path"] == "fields.spend" and "archived" in conflicts[0]["note"]
    assert merged == local
    merged, _, _ = merge(BASE, local, changed, archived=archived, resolve="take-incoming")
    assert [f["key"] for f in merged["fields"]] == ["name", "spend"]
