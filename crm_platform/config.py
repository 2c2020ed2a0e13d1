"""Configuration read from the environment, with safe defaults for a laptop."""
from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path


def default_database_url(instance_path: Path) -> str:
    instance_path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_path / 'crm.sqlite'}"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def instance_secret(instance_path: Path) -> str:
    """The key that signs sessions when SECRET_KEY is not set: made once, kept in
    ``instance/secret_key`` (readable by its owner only), read by every process.

    A key per process would sign each gunicorn worker's cookies differently, so a person would be
    signed out whenever the next request reached the other worker, and at every restart. The file
    appears whole or not at all (written aside, then linked into place), so workers starting
    together agree on one key. Where the folder cannot be written, the process keeps a key of its
    own and says so.
    """
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    try:
        instance_path.mkdir(parents=True, exist_ok=True)
        aside = instance_path / f".secret_key.{os.getpid()}"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another worker was first: its key is the one
        finally:
            aside.unlink()
        return path.read_text(encoding="ascii").strip()
    except OSError as exc:
        warnings.warn(f"cannot keep a session key in {path} ({exc}); set SECRET_KEY, or sessions will not "
                      f"survive a restart or be shared between workers", RuntimeWarning, stacklevel=2)
        return secrets.token_hex(32)


def default_queue_url(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'queue.sqlite'}"


def load_settings(instance_path: Path, overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    url = overrides.pop("DATABASE_URL", None) or os.environ.get("DATABASE_URL") or default_database_url(instance_path)
    secret = overrides.pop("SECRET_KEY", None) or os.environ.get("SECRET_KEY")
    if not secret:
        secret = instance_secret(instance_path)
    settings = {
        "DATABASE_URL": normalise_database_url(url),
        "SECRET_KEY": secret,
        # Bodies above this size are answered with 413 before they are parsed.
        "MAX_CONTENT_LENGTH": int(os.environ.get("CRM_MAX_BODY_BYTES", 2 * 1024 * 1024)),
        # Addresses (path and query string) above this size are answered with 414 by the app, in
        # JSON on the API. It stays below the request line `crm serve` lets gunicorn read
        # (GUNICORN_REQUEST_LINE in cli.py), so gunicorn's own HTML 414 is not what a client meets.
        "CRM_MAX_URL_BYTES": int(os.environ.get("CRM_MAX_URL_BYTES", 8000)),
        "CRM_DEFAULT_PAGE_SIZE": 50,
        "CRM_MAX_PAGE_SIZE": 500,
        # Lists count matches exactly up to this many, then say "at least" (total_exact: false).
        "CRM_COUNT_LIMIT": int(os.environ.get("CRM_COUNT_LIMIT", 10_000)),
        # Sample records a bundle may load through /api/bundle (413 above it): the import runs
        # inside the request, which a gunicorn worker ends after 30 s. `crm import` has no limit.
        "BUNDLE_MAX_SAMPLE_RECORDS": int(os.environ.get("CRM_BUNDLE_MAX_SAMPLE_RECORDS", 20_000)),
        # Import files (CSV, XLSX) up to this size are taken (413 above it); files above
        # CRM_IMPORT_SYNC_BYTES are imported in the background (202 and a job to poll), so no
        # request outlives gunicorn's 30 s; uploads wait in CRM_IMPORT_DIR until their job ends.
        "CRM_IMPORT_MAX_BYTES": int(os.environ.get("CRM_IMPORT_MAX_BYTES", 50 * 1024 * 1024)),
        "CRM_IMPORT_SYNC_BYTES": int(os.environ.get("CRM_IMPORT_SYNC_BYTES", 1024 * 1024)),
        "CRM_IMPORT_DIR": os.environ.get("CRM_IMPORT_DIR") or str(instance_path / "imports"),
        # The job queue of `crm worker`: a SQLite file beside the instance unless a Redis URL is given.
        "CRM_QUEUE_URL": os.environ.get("CRM_QUEUE_URL") or default_queue_url(instance_path),
        # Proxies in front of the app (a TLS proxy: 1). With N > 0 the client address, scheme and host
        # are taken from the last N X-Forwarded-* entries, so the sign-in limit counts real clients.
        "CRM_PROXIES": int(os.environ.get("CRM_PROXIES", 0)),
        # GET /metrics (Prometheus) exists only when a token is set, and answers only to that token.
        "CRM_METRICS_TOKEN": os.environ.get("CRM_METRICS_TOKEN") or None,
    }
    # Session cookies: HttpOnly always; SameSite=Lax so other sites cannot post with them;
    # Secure when the site is served over HTTPS (set CRM_HTTPS=1 behind a TLS proxy).
    settings.update({
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("CRM_HTTPS", "") in ("1", "true", "yes"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    })
    settings.update(overrides)
    return settings
