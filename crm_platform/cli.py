"""The `crm` command."""
from __future__ import annotations

import sys

import click

from .clock import utcnow
from .i18n import text_of


def _app():
    from .app import create_app
    return create_app()


@click.group()
def main():
    """Low-code CRM platform."""


@main.command()
def init():
    """Create or upgrade the platform's own tables (Alembic migrations)."""
    from .migrate import upgrade
    app = _app()
    platform = app.extensions["crm"]
    applied = upgrade(platform.engine)
    if SEARCH_MIGRATION in applied:
        # Records written before global search existed: index them now rather than leave search
        # blind to them until someone runs `crm search reindex` (on a new database: nothing to do).
        from .runtime import search
        with platform.engine.begin() as conn:
            written = search.rebuild(conn, platform.runtime.current(conn))
        if written:
            click.echo(f"search index built for the records already here: {written} values indexed")
    click.echo(f"database ready: {platform.engine.url.render_as_string(hide_password=True)}")


#: The migration that added global search (crm_search).
SEARCH_MIGRATION = "0016_search_views"


#: The longest request line gunicorn may be told to read (its maximum short of "unlimited"). Its
#: default, 4094, refused long list addresses with an HTML page; the app itself answers addresses
#: above CRM_MAX_URL_BYTES (8000 by default, below this) with its JSON 414.
GUNICORN_REQUEST_LINE = 8190


def gunicorn_options(host: str, port: int, workers: int, timeout: int = 30) -> dict:
    return {"bind": f"{host}:{port}", "workers": workers, "accesslog": "-", "limit_request_line": GUNICORN_REQUEST_LINE,
            "timeout": timeout}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1),
              help="seconds a worker may spend on one request before gunicorn restarts it; a streamed export "
                   "of a large list takes longer (docs/export-and-merge.md)")
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader")
def serve(host, port, workers, timeout, dev):
    """Serve the CRM over HTTP (gunicorn; --dev for Flask's reloader)."""
    if dev:
        _app().run(host=host, port=port, debug=True, use_reloader=True)
        return
    import logging
    import os
    from gunicorn.app.base import BaseApplication
    from .logs import configure
    json_logs = os.environ.get("CRM_LOG_FORMAT") == "json"
    configure("json" if json_logs else None)
    options = gunicorn_options(host, port, workers, timeout)
    if json_logs:
        options["accesslog"] = None  # the app writes one JSON line per request (crm.access) instead
    else:
        logging.getLogger("crm.access").setLevel(logging.WARNING)  # gunicorn's access log is enough
    if os.environ.get("CRM_METRICS_TOKEN") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        options["child_exit"] = _prepare_multiprocess_metrics(port)

    class Server(BaseApplication):
        def load_config(self):
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self):
            return _app()

    Server().run()


def _prepare_multiprocess_metrics(port: int):
    """Workers write their metrics to files in a fresh directory, summed by whichever answers /metrics."""
    import os
    import shutil
    from pathlib import Path
    directory = Path("instance") / f"prometheus-{port}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())

    def child_exit(server, worker):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
    return child_exit


@main.group()
def entity():
    """Entities defined in this instance."""


@entity.command("list")
@click.option("--archived", is_flag=True, help="include archived entities")
def entity_list(archived):
    """List entities with their field count and row count."""
    import sqlalchemy as sa
    app = _app()
    platform = app.extensions["crm"]
    model = platform.runtime.current()
    rows = []
    with platform.engine.connect() as conn:
        for e in sorted(model.entities.values(), key=lambda e: e.key):
            if e.archived and not archived:
                continue
            n = conn.execute(sa.select(sa.func.count()).select_from(e.table).where(e.table.c.archived_at.is_(None))).scalar()
            rows.append((e.key, text_of(e.doc["label"], "en"), len(e.fields), n, "archived" if e.archived else ""))
    if not rows:
        click.echo("no entities yet")
        return
    width = max(len(r[0]) for r in rows)
    for key, label, nfields, nrows, state in rows:
        click.echo(f"{key:<{width}}  {label}  ({nfields} fields, {nrows} records) {state}".rstrip())


@main.group()
def user():
    """People who sign in."""


@user.command("create")
@click.argument("name")
@click.option("--password", required=True, help="at least 8 characters")
@click.option("--role", "roles", multiple=True, help="a role key; repeat for several")
@click.option("--admin", is_flag=True, help="may change definitions and reach the admin designer")
def user_create(name, password, roles, admin):
    """Create a user who can sign in at /login or get an API token."""
    from .errors import CrmError
    platform = _app().extensions["crm"]
    try:
        created = platform.users.create(name, password, is_admin=admin, roles=list(roles))
    except CrmError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {created.username} created (id {created.id}{', administrator' if admin else ''})")
    known = platform.metadata.state().roles
    for role in roles:
        if role not in known or known[role].archived:
            click.echo(f"warning: there is no active role '{role}' yet; it grants nothing until one exists", err=True)


@user.command("reset-totp")
@click.argument("name")
def user_reset_totp(name):
    """Forget a user's second factor (a lost phone); they set one up again if a role requires it.
    Audited like the other changes of users, with no actor (the command line)."""
    platform = _app().extensions["crm"]
    found = platform.users.get_by_name(name)
    if found is None:
        raise click.ClickException(f"there is no user '{name}'")
    platform.users.reset_totp(found.id)
    click.echo(f"user {found.username}: second factor reset")


@main.command()
@click.option("--once", is_flag=True, help="run every job due now (queued deliveries and due periodic jobs), then exit")
@click.option("--threads", default=2, show_default=True, type=int, help="jobs run at the same time")
def worker(once, threads):
    """Run the job queue: queued jobs, and periodic ones such as the daily re-evaluation of rule tags."""
    import os
    from .jobs.queue import make_queue
    from .jobs.tasks import Jobs
    app = _app()
    jobs = Jobs(app.extensions["crm"], make_queue(app.config["CRM_QUEUE_URL"]))
    if once:
        due = jobs.enqueue_due()
        ran = jobs.run_pending()
        click.echo(f"periodic jobs due: {', '.join(due) or 'none'}; jobs run: {ran}")
        return
    from .logs import configure
    configure(os.environ.get("CRM_LOG_FORMAT"))
    jobs.enqueue_due()  # what fell due while no worker ran, without waiting for the first minute
    jobs.queue.create_consumer(workers=threads, worker_type="thread", periodic=True).run()


@main.group("outbox")
def outbox_group():
    """E-mails and webhooks waiting to be sent, sent, or failed."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed"]), default=None)
@click.option("--limit", default=50, show_default=True, type=int)
def outbox_list(status, limit):
    """The latest deliveries: id, kind, status, attempts, last error."""
    import sqlalchemy as sa
    from .tables import outbox
    query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status:
        query = query.where(outbox.c.status == status)
    with _app().extensions["crm"].engine.connect() as conn:
        for row in conn.execute(query):
            click.echo(f"{row.id}\t{row.kind}\t{row.status}\t{row.attempts}\t{row.created_at:%Y-%m-%d %H:%M}"
                       f"\t{row.last_error or ''}")


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
def outbox_retry(ids):
    """Put failed deliveries (all, or the IDS given) back on the queue."""
    from .jobs.delivery import retry_failed
    count = retry_failed(_app().extensions["crm"].engine, list(ids) or None)
    click.echo(f"{count} failed deliveries queued again")


@main.group("search")
def search_group():
    """The global search index (crm_search)."""


@search_group.command("reindex")
@click.option("--entity", "entities", multiple=True, help="only this entity; repeat for several")
def search_reindex(entities):
    """Index every record again: after upgrading from a release without search, or when a field became searchable."""
    from .runtime import search
    platform = _app().extensions["crm"]
    with platform.engine.begin() as conn:
        written = search.rebuild(conn, platform.runtime.current(conn), list(entities) or None)
    click.echo(f"search index rebuilt: {written} values indexed")


@main.command("backup")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="the backup file (default: backups/crm-<UTC time>.tar.gz)")
def backup_command(output):
    """Back up the whole instance into one file while the server runs."""
    from pathlib import Path
    from .backup import BackupError, backup
    app = _app()
    out = Path(output or f"backups/crm-{utcnow():%Y%m%dT%H%M%SZ}.tar.gz")
    try:
        manifest = backup(app.extensions["crm"].engine, out, Path(app.instance_path))
    except BackupError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"backup written: {out} ({manifest['dialect']}, metadata revision {manifest['metadata_revision']}, "
               f"{out.stat().st_size:,} bytes)")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore_command(file):
    """Restore a backup into the empty database DATABASE_URL names."""
    from pathlib import Path
    from .backup import BackupError, restore
    app = _app()
    try:
        manifest = restore(app.extensions["crm"].engine, Path(file), Path(app.instance_path))
    except BackupError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"restored the backup of {manifest['created_at']} (metadata revision {manifest['metadata_revision']})")


@main.group()
def tags():
    """Tags and their rules."""


@tags.command("refresh")
@click.option("--taxonomy", default=None, help="only the rules of this taxonomy")
def tags_refresh(taxonomy):
    """Re-evaluate every rule-driven tag; report how many records gained or lost each tag."""
    from .runtime import tag_rules
    platform = _app().extensions["crm"]
    with platform.engine.connect().execution_options(sqlite_immediate=True) as conn:
        with conn.begin():
            model = platform.runtime.current(conn)
            if taxonomy is not None and taxonomy not in model.state.taxonomies:
                raise click.BadParameter(f"no taxonomy '{taxonomy}'", param_hint="--taxonomy")
            report = tag_rules.refresh(conn, model, taxonomy)
    if not report:
        click.echo("no rule-driven tags")
    for tag, counts in sorted(report.items()):
        click.echo(f"{tag}: +{counts['gained']} -{counts['lost']}")


from .bundles.cli import register as _register_bundle_commands  # noqa: E402

_register_bundle_commands(main, platform=lambda: _app().extensions["crm"])  # crm export, crm import, crm template ...

from .imports.cli import register as _register_import_commands  # noqa: E402

_register_import_commands(main, platform=lambda: _app().extensions["crm"])  # crm records import


if __name__ == "__main__":
    sys.exit(main())
