"""What each installed bundle put into the instance: read and written inside the import's transaction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field as dc_field

import sqlalchemy as sa

from .. import jsonutil
from ..tables import bundle_definitions, bundles
from .format import digest


@dataclass
class Installed:
    name: str
    version: str
    checksum: str
    sample_data_at: dt.datetime | None
    #: (kind, key) → the definition as the bundle carried it when it was last installed
    definitions: dict[tuple[str, str], dict] = dc_field(default_factory=dict)


def load(conn: sa.Connection, name: str) -> Installed | None:
    row = conn.execute(sa.select(bundles).where(bundles.c.name == name)).first()
    if row is None:
        return None
    found = Installed(row.name, row.version, row.checksum, row.sample_data_at)
    for d in conn.execute(sa.select(bundle_definitions).where(bundle_definitions.c.bundle == name)):
        found.definitions[(d.kind, d.key)] = jsonutil.loads(d.body)
    return found


def owners(conn: sa.Connection) -> dict[tuple[str, str], list[str]]:
    """(kind, key) → names of the bundles that installed that definition."""
    out: dict[tuple[str, str], list[str]] = {}
    q = sa.select(bundle_definitions.c.kind, bundle_definitions.c.key, bundle_definitions.c.bundle).order_by(
        bundle_definitions.c.bundle)
    for kind, key, bundle in conn.execute(q):
        out.setdefault((kind, key), []).append(bundle)
    return out


def listing(conn: sa.Connection) -> list[dict]:
    rows = conn.execute(sa.select(bundles).order_by(bundles.c.name)).all()
    return [{"name": r.name, "version": r.version, "checksum": r.checksum, "installed_at": r.installed_at,
             "actor": r.actor, "sample_data": r.sample_data_at is not None} for r in rows]


def record(conn: sa.Connection, bundle: dict, docs: dict[tuple[str, str], dict], *, actor: str, now: dt.datetime,
           sample_data_loaded: bool) -> None:
    """Remember the bundle and each definition as it carried it (the base of the next upgrade's merge)."""
    name = bundle["name"]
    previous = conn.execute(sa.select(bundles.c.sample_data_at).where(bundles.c.name == name)).first()
    sample_at = now if sample_data_loaded else (previous.sample_data_at if previous is not None else None)
    conn.execute(bundle_definitions.delete().where(bundle_definitions.c.bundle == name))
    conn.execute(bundles.delete().where(bundles.c.name == name))
    conn.execute(bundles.insert().values(name=name, version=bundle["version"], checksum=bundle["checksum"],
                                         installed_at=now, actor=actor, sample_data_at=sample_at))
    if docs:
        conn.execute(bundle_definitions.insert(), [
            {"bundle": name, "kind": kind, "key": key, "checksum": digest(doc), "body": jsonutil.dumps(doc, sort_keys=True)}
            for (kind, key), doc in sorted(docs.items())])
