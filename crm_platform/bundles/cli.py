"""`crm export`, `crm import` and `crm template list|show|install`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import click

from ..errors import CrmError
from ..i18n import text_of

CONFLICT_CHOICE = click.Choice(["keep-local", "take-incoming"])


def _fail(exc: CrmError, result: dict | None = None):
    from .report import lines
    if result is not None:
        for line in lines(result):
            click.echo(line, err=True)
    for e in exc.errors:
        click.echo(f"error: {e.get('field') or '-'}: {e['message']}", err=True)
    sys.exit(1)


def _import(platform: Callable, bundle_text: bytes | dict, *, dry_run: bool, on_conflict, sample_data: bool, as_json: bool,
            demo_users: bool = False):
    from .. import jsonutil
    from . import importer
    from .format import parse
    from .report import lines
    try:
        bundle = bundle_text if isinstance(bundle_text, dict) else parse(bundle_text)
        result = importer.run(platform(), bundle, actor="cli", dry_run=dry_run, on_conflict=on_conflict,
                              sample_data=sample_data, demo_users=demo_users)
    except CrmError as exc:
        _fail(exc, exc.extra.get("plan"))
        return
    click.echo(jsonutil.dumps(result, sort_keys=True, indent=2) if as_json else "\n".join(lines(result)))


def register(main: click.Group, platform: Callable) -> None:
    """Add the commands to ``main``; ``platform()`` gives the services (wired in ``crm_platform.cli``)."""
    @main.command("export")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write here instead of stdout")
    @click.option("--only", default=None, help="comma-separated definition keys (or kind:key) to export")
    @click.option("--name", default="export", show_default=True, help="the bundle's name")
    @click.option("--version", "version", default="1.0.0", show_default=True, help="the bundle's version")
    @click.option("--sample-data", is_flag=True, help="also export the records, as sample data")
    def export_command(output, only, name, version, sample_data):
        """Write this instance's configuration as one deterministic bundle (JSON)."""
        from . import exporter
        from .format import serialise
        try:
            keys = [k.strip() for k in only.split(",") if k.strip()] if only else None
            text = serialise(exporter.export(platform(), name=name, version=version, only=keys,
                                             sample_data=sample_data))
        except CrmError as exc:
            _fail(exc)
            return
        if output:
            Path(output).write_text(text, encoding="utf-8")
            click.echo(f"bundle written to {output}", err=True)
        else:
            click.echo(text, nl=False)

    @main.command("import")
    @click.argument("file", type=click.File("rb"))
    @click.option("--dry-run", is_flag=True, help="show the plan, change nothing")
    @click.option("--on-conflict", type=CONFLICT_CHOICE, default=None,
                  help="settle definitions changed both here and in the bundle")
    @click.option("--sample-data", is_flag=True, help="also load the bundle's sample data (once per bundle)")
    @click.option("--json", "as_json", is_flag=True, help="print the plan as JSON")
    def import_command(file, dry_run, on_conflict, sample_data, as_json):
        """Plan and apply a bundle, all or nothing; conflicts with local changes stop it unless settled."""
        _import(platform, file.read(), dry_run=dry_run, on_conflict=on_conflict, sample_data=sample_data, as_json=as_json)

    @main.group("template")
    def template():
        """The industry template library (e-commerce, education, B2B)."""

    @template.command("list")
    def template_list():
        """Templates with their version and what is installed here."""
        from . import installs, templates
        with platform().engine.connect() as conn:
            here = {b["name"]: b for b in installs.listing(conn)}
        for name in templates.names():
            bundle = templates.load(name)
            installed = here.get(bundle["name"])
            state = f"installed {installed['version']}" if installed else "not installed"
            click.echo(f"{name:<10} {bundle['version']:<8} {text_of(bundle.get('label', name), 'en')} / "
                       f"{text_of(bundle.get('label', name), 'zh')}  ({state})")

    @template.command("show")
    @click.argument("name")
    def template_show(name):
        """A template's README and the definitions it carries."""
        from . import templates
        try:
            bundle = templates.load(name)
        except CrmError as exc:
            _fail(exc)
            return
        click.echo(templates.readme(name).rstrip())
        click.echo("")
        click.echo(f"{bundle['name']} {bundle['version']} ({bundle['checksum']})")
        for kind, docs in sorted(bundle["definitions"].items()):
            click.echo(f"  {kind}: " + ", ".join(f"{d['key']} ({text_of(d.get('label', d['key']), 'zh')})"
                                                 for d in docs))
        counts = {k: len(v) for k, v in sorted(bundle.get("sample_data", {}).items())}
        if counts:
            click.echo("  sample data: " + ", ".join(f"{n} {k}" for k, n in counts.items()))

    @template.command("install")
    @click.argument("name")
    @click.option("--sample-data", is_flag=True,
                  help="also load the template's sample records (once), owned by demo users of its roles")
    @click.option("--dry-run", is_flag=True, help="show the plan, change nothing")
    @click.option("--on-conflict", type=CONFLICT_CHOICE, default=None,
                  help="settle definitions changed both here and in the template")
    @click.option("--json", "as_json", is_flag=True, help="print the plan as JSON")
    def template_install(name, sample_data, dry_run, on_conflict, as_json):
        """Install (or upgrade) a template; installing the same version again changes nothing."""
        from . import templates
        try:
            bundle = templates.load(name)
        except CrmError as exc:
            _fail(exc)
            return
        _import(platform, bundle, dry_run=dry_run, on_conflict=on_conflict, sample_data=sample_data, as_json=as_json,
                demo_users=True)
