"""`crm records import ENTITY FILE`: the same import as the API and the page, with a progress bar."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import click

from ..errors import CrmError


def register(main: click.Group, platform: Callable) -> None:
    """Add the commands to ``main``; ``platform()`` gives the services (wired in ``crm_platform.cli``)."""
    @main.group()
    def records():
        """Records of an entity."""

    @records.command("import")
    @click.argument("entity")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--mapping", help="JSON object column header → field key, or a file holding one")
    @click.option("--match", help="field keys that identify a record, comma-separated (e.g. contact_phone)")
    @click.option("--on-match", type=click.Choice(["skip", "update"]), default="skip", show_default=True,
                  help="what a row matching an existing record does")
    @click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")
    @click.option("--all-or-nothing", is_flag=True, help="write nothing if any row is refused")
    @click.option("--sheet", help="the XLSX sheet to read (default: the first)")
    @click.option("--as", "as_user", help="act as this user (their rights; they own the new records)")
    @click.option("--errors", "errors_file", type=click.Path(dir_okay=False, path_type=Path),
                  help="write the refused rows to this XLSX file, with what was wrong in each")
    @click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
    def import_records(entity, file, mapping, match, on_match, dry_run, all_or_nothing, sheet, as_user,
                       errors_file, as_json):
        """Import a CSV (UTF-8, GB18030) or XLSX FILE into ENTITY through the record service."""
        from ..runtime.access import Access
        from .runner import ImportOptions, run_import

        services = platform()
        access = Access.system()
        if as_user:
            user = services.users.get_by_name(as_user)
            if user is None:
                raise click.BadParameter(f"no user {as_user!r}", param_hint="--as")
            access = Access.for_user(user, services.runtime)
        options = ImportOptions(mapping=_mapping(mapping), match=[m.strip() for m in (match or "").split(",") if m.strip()],
                                on_match=on_match, dry_run=dry_run, all_or_nothing=all_or_nothing, sheet=sheet)
        bar = {}

        def progress(done, total, committed):
            if "bar" not in bar:
                bar["bar"] = click.progressbar(length=total, label=f"importing {file.name}", file=sys.stderr,
                                               show_pos=True)
                bar["bar"].__enter__()
                bar["at"] = 0
            bar["bar"].update(done - bar["at"])
            bar["at"] = done

        try:
            report = run_import(services, entity, file.read_bytes(), file.name, options, access, progress,
                                keep_rows=errors_file is not None)
        except CrmError as exc:
            for e in exc.errors:
                click.echo(f"error: {e.get('field') or '-'}: {e['message']}", err=True)
            sys.exit(1)
        finally:
            if "bar" in bar:
                bar["bar"].__exit__(None, None, None)
        kept = report.pop("kept", None)
        if errors_file is not None and report["refused"]:
            from .error_sheet import build
            errors_file.write_bytes(build(report, kept or {}))
        if as_json:
            click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
            return
        verb = "would be " if dry_run else ""
        click.echo(f"{report['created']} {verb}created, {report['updated']} {verb}updated, {report['skipped']} skipped, "
                   f"{len({e['row'] for e in report['refused']})} rows refused"
                   + (" (nothing written: all or nothing)" if all_or_nothing and report["refused"] and not dry_run else ""))
        for e in report["refused"][:50]:
            click.echo(f"  row {e['row']}{' ' + e['column'] if e.get('column') else ''}: {e['message']}"
                       + (f" ({e['value']!r})" if e.get("value") is not None else ""))
        if len(report["refused"]) > 50:
            click.echo(f"  ... and {len(report['refused']) - 50} more" + (f": see {errors_file}" if errors_file else
                                                                         " (--errors FILE writes them all)"))
        if errors_file is not None and report["refused"]:
            click.echo(f"refused rows written to {errors_file}")


def _mapping(text: str | None) -> dict | None:
    if not text:
        return None
    source = Path(text)
    raw = source.read_text(encoding="utf-8") if not text.lstrip().startswith("{") and source.is_file() else text
    try:
        mapping = json.loads(raw)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--mapping") from None
    if not isinstance(mapping, dict):
        raise click.BadParameter("give a JSON object of column header → field key", param_hint="--mapping")
    return mapping
