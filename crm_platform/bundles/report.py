"""The import plan as text for the command line (the API answers the same plan as JSON)."""
from __future__ import annotations

from .. import jsonutil

VERBS = {"create": "create", "update": "change", "restore": "restore and change", "archive": "archive",
         "unchanged": "unchanged", "kept": "keep as it is here"}


def _short(value) -> str:
    text = jsonutil.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 160 else text[:157] + "..."


def lines(result: dict) -> list[str]:
    b, s = result["bundle"], result["summary"]
    head = f"bundle {b['name']} {b['version']}"
    if result.get("installed_version"):
        head += f" (installed here: {result['installed_version']}"
        head += ", which is NEWER: this goes back to an older version)" if result.get("older_than_installed") else ")"
    out = [head + (" — dry run, nothing changed" if result["dry_run"] else "")]
    out.append(f"  definitions: {s['created']} created, {s['changed']} changed, {s['archived']} archived, "
               f"{s['unchanged']} unchanged; {s['tables_created']} tables created, {s['columns_added']} columns added, "
               f"{s['rows_affected']} rows affected; {s['clashes']} name clashes, {s['conflicts']} conflicts "
               f"({s['unresolved']} unresolved)")
    for d in result["definitions"]:
        if d["action"] != "unchanged" or d.get("conflicts"):
            shared = f" (also installed by {', '.join(d['shared_with'])})" if d.get("shared_with") else ""
            clash = (" — NAME CLASH: defined here differently; both sides' additions are kept, differences are "
                     "conflicts") if d.get("clash") else ""
            out.append(f"  {VERBS[d['action']]:<10} {d['kind']} {d['key']}{shared}{clash}")
            if d.get("from_bundle"):
                out.append(f"             from the bundle: {', '.join(d['from_bundle'])}")
            if d.get("kept_here"):
                out.append(f"             kept from this instance: {', '.join(d['kept_here'])}")
    for c in result["conflicts"]:
        where = f"{c['kind']} {c['key']}" + (f" {c['path']}" if c.get("path") else "")
        out.append(f"  CONFLICT {where}: {c['resolution']}" + (f" — {c['note']}" if c.get("note") else ""))
        if "installed" in c:
            out.append(f"    installed: {_short(c['installed'])}")
        out.append(f"    here:      {_short(c['local'])}")
        out.append(f"    bundle:    {_short(c['incoming'])}")
    for step in result["steps"]:
        out.append(f"  step: {step['summary']}")
    for tag, counts in sorted(result.get("rule_tags", {}).items()):
        out.append(f"  rule tag {tag}: +{counts['gained']} -{counts['lost']} records")
    if "sample_data" in result:
        sd = result["sample_data"]
        if "records" in sd:
            out.append("  sample data: " + ", ".join(f"{n} {k}" for k, n in sorted(sd["records"].items())))
        else:
            out.append(f"  sample data: {sd['skipped']}")
    if result.get("demo_users"):
        if result["dry_run"]:
            out.append("  demo users (would be created): " + ", ".join(
                f"{u['username']} ({u['role']})" for u in result["demo_users"]))
        else:
            out.append("  demo users, to sign in as each role (passwords shown this once):")
            out.extend(f"    {u['username']:<12} {u['password']}  role {u['role']}" for u in result["demo_users"])
    return out
