"""Running automation rules: the after-write hook of the event triggers, the chain limits, the run log.

The hook (``Automations.__call__``, registered after rule tags and pipelines and before the audit
in ``app.py``) runs in the write's transaction for every batch, a bulk create or an import as much
as a single write: for each active rule of the batch's entity whose trigger the write fires and
whose conditions hold, the actions run, one after the other, each for all the batch's records at
once, each inside a savepoint — an action refused by the record service (a value its field does not
take, say) is rolled back alone and recorded as the run's error, and the user's write stands.

Chains are allowed but bounded. An action's write is a batch of its own, so it runs the hooks again
and may fire other rules; the rules running are kept in a context variable. A rule never fires on
its own write (nothing is recorded: it would on every run); a rule fired again further down its own
chain (A → B → A), or a chain deeper than ``MAX_DEPTH``, is stopped and recorded as a ``loop`` run.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import time
from dataclasses import dataclass

import sqlalchemy as sa

from ... import jsonutil
from ...clock import utcnow
from ...errors import CrmError
from ...tables import automation_runs
from ..compiled import CompiledEntity, CompiledModel
from ..pipelines import pipelines_of
from ..records import Batch, RecordService
from . import actions as acts
from .conditions import matching

#: How many rules deep a chain may go (a rule's write firing a rule, whose write fires a rule...).
MAX_DEPTH = 5
#: The rules running, outermost first (a context variable: each thread and task has its own).
CHAIN: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("crm_automation_chain", default=())
#: True while automations must not run (a template's sample data being loaded).
SUSPENDED: contextvars.ContextVar[bool] = contextvars.ContextVar("crm_automations_suspended", default=False)


@contextlib.contextmanager
def suspended():
    """No automation rule fires on the writes made inside (sample data is a snapshot, not events)."""
    token = SUSPENDED.set(True)
    try:
        yield
    finally:
        SUSPENDED.reset(token)


#: Actions that write the records they act on: later actions then see the records as they left them.
WRITES_SOURCE = frozenset({"set_fields", "add_tags", "remove_tags", "assign"})


def active_rules(model: CompiledModel, entity_key: str | None = None, on: tuple[str, ...] | None = None) -> list[dict]:
    """Active rules that can run on this model: a rule naming what was archived or changed since it was
    saved (a field, a stage, a role) is left out rather than failing the writes it would see."""
    from ...metadata.kinds import KINDS
    rules = []
    for key, found in sorted(model.state.of_kind("automation").items()):
        doc = found.doc
        if found.archived or doc.get("active", True) is False:
            continue
        if (entity_key is None or doc["entity"] == entity_key) and (on is None or doc["trigger"]["on"] in on):
            entity = model.entities.get(doc["entity"])
            if entity is not None and not entity.archived and not KINDS["automation"].problems(doc, model.state):
                rules.append(doc)
    return rules


def load(conn: sa.Connection, entity: CompiledEntity, ids: list[int]) -> list[dict]:
    """The stored records of ``ids`` (live ones), in the order of ``ids``, as hooks see records."""
    t, found = entity.table, {}
    for start in range(0, len(ids), 900):
        rows = conn.execute(sa.select(*entity.columns).where(t.c.id.in_(ids[start:start + 900]),
                                                             t.c.archived_at.is_(None)))
        found.update((r.id, dict(r._mapping)) for r in rows)
    records = [found[i] for i in ids if i in found]
    if entity.link_tables:
        entity.links.attach(conn, records)
    return records


# ---- which writes fire a trigger ---------------------------------------------------------------

def _changed(w, key: str) -> bool:
    return key in w.changes and (w.before or {}).get(key) != (w.after or {}).get(key)


def fired(rule: dict, batch: Batch) -> list:
    """The writes of ``batch`` that fire ``rule``'s trigger."""
    trigger, op = rule["trigger"], batch.op
    on = trigger["on"]
    if on == "created":
        return list(batch) if op == "create" else []
    if on == "updated":
        if op != "update":
            return []
        fields = trigger.get("fields")
        out = [w for w in batch if fields is None or any(_changed(w, k) for k in fields)]
        if "to" in trigger and fields:
            field = batch.entity.field_map.get(fields[0])
            wanted = trigger["to"]
            if field is not None:
                from ...metadata.field_types import REGISTRY
                wanted = REGISTRY[field["type"]].compared_checker(field)(wanted)
            out = [w for w in out if w.after.get(fields[0]) == wanted]
        return out
    if on == "stage_entered" and op in ("create", "update"):
        out = []
        for p in pipelines_of(batch.model, batch.entity.key):
            if trigger.get("pipeline") not in (None, p["key"]):
                continue
            field = p["field"]
            out += [w for w in batch if w.after.get(field) == trigger["stage"]
                    and (w.before is None or w.before.get(field) != trigger["stage"])]
        return out
    return []


# ---- running a rule ----------------------------------------------------------------------------

@dataclass
class Runner:
    """Runs rules' actions on records and writes their run log rows."""

    records: RecordService

    def run(self, conn: sa.Connection, model: CompiledModel, rule: dict, sources: list[dict], *, trigger: str,
            actor_id: int | None, attempt: int = 1) -> list[dict]:
        """Every action of ``rule`` on ``sources``; writes one run row per record and returns them."""
        chain = CHAIN.get()
        entity = model.entity(rule["entity"])
        started, clock = utcnow(), time.perf_counter()
        outcomes: list[list[dict]] = [[] for _ in sources]
        errors: list[str | None] = [None] * len(sources)
        ctx = acts.Context(self.records, conn, model, rule, actor_id, trigger)
        token = CHAIN.set(chain + (rule["key"],))
        try:
            current = sources
            for n, action in enumerate(rule["actions"]):
                try:
                    with conn.begin_nested():
                        results = acts.ACTIONS[action["type"]](ctx, n, action, current)
                except (CrmError, acts.NoOneToAssign) as exc:
                    message = _message(exc)
                    results = [{"type": action["type"], "outcome": "error", "error": message}] * len(current)
                for i, result in enumerate(results):
                    outcomes[i].append(result)
                    if result.get("outcome") == "error" and errors[i] is None:
                        errors[i] = f"action {n} ({action['type']}): {result['error']}"
                if action["type"] in WRITES_SOURCE and n + 1 < len(rule["actions"]):
                    current = load(conn, entity, [s["id"] for s in sources]) or current
        finally:
            CHAIN.reset(token)
        per_record = int((time.perf_counter() - clock) * 1000 / max(len(sources), 1))
        rows = [{"automation": rule["key"], "entity": rule["entity"], "record_id": s["id"], "trigger": trigger[:200],
                 "status": "error" if errors[i] else "ok", "actions": jsonutil.dumps(outcomes[i]),
                 "error": errors[i], "attempt": attempt, "depth": len(chain), "started_at": started,
                 "duration_ms": per_record} for i, s in enumerate(sources)]
        if rows:
            conn.execute(automation_runs.insert(), rows)
        return rows

    def stopped(self, conn: sa.Connection, rule: dict, sources: list[dict], *, trigger: str, why: str) -> None:
        """Record that a chain was stopped before ``rule`` ran again (a loop, or too deep)."""
        chain = CHAIN.get()
        now = utcnow()
        conn.execute(automation_runs.insert(), [
            {"automation": rule["key"], "entity": rule["entity"], "record_id": s["id"], "trigger": trigger[:200],
             "status": "loop", "actions": "[]", "error": why, "attempt": 1, "depth": len(chain), "started_at": now,
             "duration_ms": 0} for s in sources])


def _message(exc: Exception) -> str:
    if isinstance(exc, CrmError):
        return "; ".join(f"{e.get('field') or ''}: {e.get('message')}".lstrip(": ") for e in exc.errors[:5])
    return str(exc)


def describe_trigger(rule: dict) -> str:
    t = rule["trigger"]
    if t["on"] == "updated" and t.get("fields"):
        return f"updated {', '.join(t['fields'])}" + (f" to {t['to']!r}" if "to" in t else "")
    if t["on"] == "stage_entered":
        return f"stage_entered {t['stage']}"
    return t["on"]


class Automations:
    """The after-write hook: event-triggered rules, in the write's transaction."""

    def __init__(self, records: RecordService):
        self.runner = Runner(records)
        self._index: tuple[CompiledModel, dict] | None = None

    def _rules(self, model: CompiledModel, entity_key: str) -> list[dict]:
        """Event rules per entity, indexed once per compiled model (no cost for entities without rules)."""
        if self._index is None or self._index[0] is not model:
            index: dict[str, list[dict]] = {}
            for rule in active_rules(model, on=("created", "updated", "stage_entered")):
                index.setdefault(rule["entity"], []).append(rule)
            self._index = (model, index)
        return self._index[1].get(entity_key, [])

    def __call__(self, conn: sa.Connection, batch: Batch) -> None:
        if batch.op not in ("create", "update") or SUSPENDED.get():
            return
        rules = self._rules(batch.model, batch.entity.key)
        if not rules:
            return
        now = utcnow()
        for rule in rules:
            writes = fired(rule, batch)
            if not writes:
                continue
            sources = matching(conn, batch.model, batch.entity, rule.get("conditions") or [],
                               [w.after for w in writes], now)
            if not sources:
                continue
            chain, key = CHAIN.get(), rule["key"]
            trigger = describe_trigger(rule)
            if chain and chain[-1] == key:
                continue  # the rule's own write: never fires it again
            if key in chain:
                self.runner.stopped(conn, rule, sources, trigger=trigger,
                                    why=f"loop: {' → '.join(chain + (key,))}; the chain was stopped")
                continue
            if len(chain) >= MAX_DEPTH:
                self.runner.stopped(conn, rule, sources, trigger=trigger,
                                    why=f"chain deeper than {MAX_DEPTH} rules ({' → '.join(chain + (key,))}); stopped")
                continue
            self.runner.run(conn, batch.model, rule, sources, trigger=trigger, actor_id=batch.actor_id)


def run_at(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
