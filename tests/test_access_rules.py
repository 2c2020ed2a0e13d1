"""The rules of roles and rights (docs/access.md "Roles and rights"), checked on ``runtime/access.py`` alone.

No database: a role set and an entity are enough, so these run in milliseconds and are the tests a
mutation check of access.py runs (docs/testing.md). The same rules are checked end to end, through
the API, in test_access.py.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from crm_platform.errors import Forbidden, NotFound
from crm_platform.metadata.definitions import EntityState, MetaState
from crm_platform.runtime.access import FULL, NONE, Access, Rights, _unchanged, compile_rights

TABLE = sa.Table("ent_deal", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("owner_id", sa.Integer))
DEAL = SimpleNamespace(key="deal", table=TABLE)


def model(*roles: dict, archived: tuple[str, ...] = ()):
    state = MetaState(by_kind={"role": {r["key"]: EntityState(r, r["key"] in archived) for r in roles}})
    return SimpleNamespace(state=state, rights_cache={}, entities={})  # no fields: none computed


def role(key, entities=None, **more):
    return {"key": key, "label": key, **({"entities": entities} if entities is not None else {}), **more}


def errors(exc) -> list[tuple]:
    return [(e["field"], e["code"]) for e in exc.value.errors]


# ---- scopes ----------------------------------------------------------------------------------------

def test_each_scope_is_the_widest_any_role_grants_and_none_by_default():
    m = model(role("a", {"deal": {"read": "own", "update": "all"}}), role("b", {"deal": {"read": "all", "create": "own"}}))
    assert compile_rights(m, ("a", "b"), "deal") == Rights(create="own", read="all", update="all", delete="none")
    assert compile_rights(m, ("a",), "deal") == Rights(read="own", update="all")
    assert compile_rights(m, (), "deal") is NONE
    assert compile_rights(m, ("a",), "customer") is NONE  # the role does not name it and has no "*"


def test_star_applies_only_to_entities_a_role_does_not_name():
    m = model(role("r", {"deal": {"read": "own"}, "*": {"read": "all", "delete": "all"}}))
    assert compile_rights(m, ("r",), "deal") == Rights(read="own")
    assert compile_rights(m, ("r",), "customer") == Rights(read="all", delete="all")


def test_archived_and_unknown_roles_grant_nothing():
    m = model(role("gone", {"deal": {"read": "all"}}), role("kept", {"deal": {"read": "own"}}), archived=("gone",))
    assert compile_rights(m, ("gone", "missing"), "deal") is NONE
    assert compile_rights(m, ("gone", "kept"), "deal").read == "own"


def test_a_role_without_entities_or_with_an_empty_grant_grants_nothing():
    m = model(role("bare"), role("empty", {"deal": {}}))
    assert compile_rights(m, ("bare", "empty"), "deal") is NONE


# ---- fields ----------------------------------------------------------------------------------------

def test_a_field_is_hidden_only_if_every_role_that_reads_the_entity_hides_it():
    hide_amount = {"read": "all", "fields": {"amount": {"read": False}, "notes": {"read": False}}}
    hide_notes = {"read": "own", "fields": {"notes": {"read": False}}}
    m = model(role("a", {"deal": hide_amount}), role("b", {"deal": hide_notes}),
              role("c", {"deal": {"update": "all", "fields": {"notes": {"read": True}}}}))
    assert compile_rights(m, ("a",), "deal").hidden == {"amount", "notes"}
    assert compile_rights(m, ("a", "b"), "deal").hidden == {"notes"}
    # c grants no read, so its silence about notes does not reveal them
    assert compile_rights(m, ("a", "b", "c"), "deal").hidden == {"notes"}
    assert compile_rights(m, ("a", "b", "c"), "deal").readonly >= {"notes"}


def test_a_field_is_read_only_only_if_every_role_that_writes_says_so_and_hidden_fields_are_read_only():
    no_amount = {"read": "all", "update": "all", "fields": {"amount": {"write": False}, "secret": {"read": False}}}
    creator = {"create": "own", "fields": {"amount": {"write": False}}}
    writer = {"update": "own"}
    reader = {"read": "all", "fields": {"stage": {"write": False}}}
    m = model(role("a", {"deal": no_amount}), role("b", {"deal": creator}), role("c", {"deal": writer}),
              role("d", {"deal": reader}))
    assert compile_rights(m, ("a",), "deal").readonly == {"amount", "secret"}
    assert compile_rights(m, ("a", "b"), "deal").readonly == {"amount", "secret"}  # b writes (create) and agrees
    # c writes and forbids nothing, so amount is writable; secret stays hidden (c does not read), so not writable
    assert compile_rights(m, ("a", "c"), "deal").readonly == {"secret"}
    assert compile_rights(m, ("a", "d"), "deal").readonly == {"amount", "secret"}  # d does not write: not asked
    assert compile_rights(m, ("d",), "deal").readonly == frozenset()  # no writer at all: nothing to restrict


# ---- administrators ----------------------------------------------------------------------------------

def test_the_administrator_flag_or_an_active_admin_role_allows_everything():
    m = model(role("designer", admin=True), role("old_admin", admin=True), role("plain", {"deal": {"read": "own"}}),
              archived=("old_admin",))
    assert Access(1, admin=True).rights("deal", m) is FULL
    assert Access(1, roles=["designer"]).rights("deal", m) is FULL
    assert Access(1, roles=["designer"]).is_admin(m) and Access(1, admin=True).is_admin(m)
    assert not Access(1, roles=["old_admin"]).is_admin(m)
    assert Access(1, roles=["old_admin", "plain"]).rights("deal", m) == Rights(read="own")
    assert not Access(1).is_admin(m)
    assert Access.system().is_admin(m) and Access.system().user_id is None


def test_rights_are_cached_per_role_set_and_entity():
    m = model(role("a", {"deal": {"read": "all"}}), role("b", {"deal": {"read": "own"}, "*": {"read": "all"}}))
    assert Access(1, roles=["a"]).rights("deal", m).read == "all"
    assert Access(2, roles=["b"]).rights("deal", m).read == "own"
    assert Access(3, roles=["b", "a", "b"]).rights("deal", m).read == "all"  # order and repeats do not matter
    assert Access(2, roles=["b"]).rights("customer", m).read == "all"
    assert Access(9, roles=["a"]).rights("customer", m) is NONE
    assert set(m.rights_cache) == {(("a",), "deal"), (("b",), "deal"), (("a", "b"), "deal"), (("b",), "customer"),
                                   (("a",), "customer")}


# ---- one record --------------------------------------------------------------------------------------

def test_scope_own_allows_only_the_users_own_records():
    m = model(role("r", {"deal": {"read": "all", "update": "own", "delete": "none"}}))
    alice = Access(7, roles=["r"])
    assert alice.allows("read", "deal", {"owner_id": 8}, m)
    assert alice.allows("update", "deal", {"owner_id": 7}, m)
    assert not alice.allows("update", "deal", {"owner_id": 8}, m)
    assert not alice.allows("update", "deal", {"owner_id": None}, m)
    assert not alice.allows("delete", "deal", {"owner_id": 7}, m)
    # someone without a user id owns nothing
    assert not Access(None, roles=["r"]).allows("update", "deal", {"owner_id": None}, m)
    assert alice.can("update", "deal", m) and not alice.can("delete", "deal", m)


def test_require_names_the_operation_and_entity():
    m = model(role("r", {"deal": {"read": "own"}}))
    with pytest.raises(Forbidden) as exc:
        Access(1, roles=["r"]).require("update", DEAL, m)
    assert exc.value.errors[0]["message"] == "you may not update deal records"
    assert Access(1, roles=["r"]).require("read", DEAL, m).read == "own"


def test_a_list_is_limited_to_own_records_for_scope_own():
    m = model(role("own", {"deal": {"read": "own"}}), role("all", {"deal": {"read": "all"}}))
    assert Access(1, roles=["all"]).read_clause(DEAL, m) is None
    clause = Access(5, roles=["own"]).read_clause(DEAL, m)
    assert str(clause.compile(compile_kwargs={"literal_binds": True})) == "ent_deal.owner_id = 5"
    nobody = Access(None, roles=["own"]).read_clause(DEAL, m)
    assert str(nobody.compile(compile_kwargs={"literal_binds": True})) in ("false", "0 = 1")
    with pytest.raises(Forbidden):
        Access(5).read_clause(DEAL, m)


def test_another_users_record_is_not_found_and_hidden_fields_are_removed():
    m = model(role("r", {"deal": {"read": "own", "fields": {"amount": {"read": False}}}}))
    alice = Access(7, roles=["r"])
    with pytest.raises(NotFound) as exc:
        alice.readable(DEAL, m, {"id": 3, "owner_id": 8, "amount": 1})
    assert exc.value.errors[0]["message"] == "no deal record with id 3"
    assert alice.readable(DEAL, m, {"id": 4, "owner_id": 7, "amount": 1, "name": "x"}) == {"id": 4, "owner_id": 7,
                                                                                          "name": "x"}


# ---- writes ------------------------------------------------------------------------------------------

@pytest.fixture
def restricted():
    m = model(role("r", {"deal": {"read": "all", "create": "all", "update": "all",
                                  "fields": {"amount": {"write": False}, "secret": {"read": False},
                                             "tags": {"write": False}}}}))
    return Access(7, roles=["r"]), m


def test_writing_a_hidden_field_is_refused_whatever_its_value(restricted):
    access, m = restricted
    with pytest.raises(Forbidden) as exc:
        access.check_writable(DEAL, m, ["secret", "name"], {"secret": "s"}, {"secret": "s"})
    assert errors(exc) == [("secret", "forbidden")]
    assert exc.value.errors[0]["message"] == "you may not read or write 'secret'"


def test_a_read_only_field_sent_back_unchanged_passes_and_a_change_is_refused(restricted):
    access, m = restricted
    before = {"amount": 5, "tags": ["a", "b"]}
    access.check_writable(DEAL, m, ["amount", "tags", "name"], before, {"amount": 5, "tags": ["b", "a"], "name": "n"})
    with pytest.raises(Forbidden) as exc:
        access.check_writable(DEAL, m, ["amount", "tags"], before, {"amount": 6, "tags": ["a"]})
    assert errors(exc) == [("amount", "forbidden"), ("tags", "forbidden")]
    assert exc.value.errors[0]["message"] == "you may not change 'amount'"
    # on create there is nothing to compare with: sending a read-only field is a change
    with pytest.raises(Forbidden):
        access.check_writable(DEAL, m, ["amount"], None, {"amount": 5})
    # sent but not among the values (a key the validator dropped) is not "unchanged"
    with pytest.raises(Forbidden):
        access.check_writable(DEAL, m, ["amount"], before, {})


def test_same_ignores_the_order_of_lists_only():
    assert _unchanged(["a", "b"], ["b", "a"]) and _unchanged([], []) and _unchanged(5, 5) and _unchanged(None, None)
    assert not _unchanged(["a"], ["a", "b"]) and not _unchanged(["a", "a"], ["a"]) and not _unchanged(5, 6)
    assert not _unchanged(["a"], "a") and not _unchanged("ab", "ba")


def test_handing_a_record_to_another_owner_needs_scope_all(restricted):
    access, m = restricted
    access.check_owner("update", DEAL, m, 8, 7)  # scope all
    own = Access(7, roles=["r2"])
    m2 = model(role("r2", {"deal": {"read": "own", "create": "own", "update": "own"}}))
    own.check_owner("update", DEAL, m2, 7, 7)  # keeping the owner is not handing over
    with pytest.raises(Forbidden) as exc:
        own.check_owner("update", DEAL, m2, 8, 7)
    assert errors(exc) == [("owner_id", "forbidden")]
    assert exc.value.errors[0]["message"] == "you may not give deal records to another owner"
    with pytest.raises(Forbidden):
        own.check_owner("create", DEAL, m2, 8, None)


def test_filtering_or_sorting_by_a_hidden_field_is_refused_naming_it(restricted):
    access, m = restricted
    access.check_query_fields(DEAL, m, ["amount", "name"])  # read-only is readable
    with pytest.raises(Forbidden) as exc:
        access.check_query_fields(DEAL, m, ["name", "secret"])
    assert errors(exc) == [("secret", "forbidden")]
    assert exc.value.errors[0]["message"] == "you may not filter or sort by 'secret'"


def test_screens_questions_follow_the_same_rules(restricted):
    access, m = restricted
    assert access.can_read_field("deal", "amount", m) and not access.can_read_field("deal", "secret", m)
    assert access.can_write_field("deal", "name", m) and not access.can_write_field("deal", "amount", m)
    reader = Access(1, roles=["ro"])
    m2 = model(role("ro", {"deal": {"read": "all"}}))
    assert reader.can_read_field("deal", "name", m2) and not reader.can_write_field("deal", "name", m2)
    assert not Access(1).can_read_field("deal", "name", m2)
    assert access.redact(DEAL, m, {"secret": 1, "amount": 2}) == {"amount": 2}


# ---- found by the mutation check of access.py (docs/testing.md) ---------------------------------------

def test_a_role_that_only_creates_counts_as_a_writer():
    """A create-only role without field rules makes the field writable, as an update role would."""
    m = model(role("a", {"deal": {"read": "all", "update": "all", "fields": {"amount": {"write": False}}}}),
              role("e", {"deal": {"create": "own"}}))
    assert compile_rights(m, ("a",), "deal").readonly == {"amount"}
    assert compile_rights(m, ("a", "e"), "deal").readonly == frozenset()
    assert Access(1, roles=["e"]).can_write_field("deal", "amount", m)


def test_a_role_that_writes_without_reading_has_rights_and_hides_nothing():
    m = model(role("w", {"deal": {"update": "own", "fields": {"amount": {"write": False}}}}))
    assert compile_rights(m, ("w",), "deal") == Rights(update="own", readonly=frozenset({"amount"}))
    assert Access(1, roles=["w"]).can_write_field("deal", "name", m)  # update alone lets a field be written
    assert not Access(1, roles=["w"]).can_write_field("deal", "amount", m)


def test_rights_come_from_the_current_model_when_none_is_given_and_are_compiled_once():
    m = model(role("r", {"deal": {"read": "own"}}))
    runtime = SimpleNamespace(current=lambda: m)
    user = SimpleNamespace(id=7, is_admin=False, roles=["r"])
    access = Access.for_user(user, runtime)
    assert (access.user_id, access.roles, access.is_admin()) == (7, ("r",), False)
    first = access.rights("deal")
    assert first == Rights(read="own") and access.can("read", "deal") and access.allows("read", "deal", {"owner_id": 7})
    assert access.rights("deal") is first and m.rights_cache[(("r",), "deal")] is first  # compiled once per model
    assert Access.for_user(SimpleNamespace(id=1, is_admin=True, roles=[]), runtime).admin


def test_refusals_carry_the_codes_clients_match_on():
    m = model(role("r", {"deal": {"read": "own"}}))
    with pytest.raises(Forbidden) as exc:
        Access(1, roles=["r"]).require("delete", DEAL, m)
    assert exc.value.errors == [{"field": None, "code": "forbidden", "message": "you may not delete deal records"}]
    with pytest.raises(NotFound) as exc:
        Access(1, roles=["r"]).readable(DEAL, m, {"id": 3, "owner_id": 2})
    assert exc.value.errors == [{"field": None, "code": "not_found", "message": "no deal record with id 3"}]


def test_redacting_a_record_that_lacks_a_hidden_field_is_fine(restricted):
    access, m = restricted
    assert access.redact(DEAL, m, {"name": "n"}) == {"name": "n"}
