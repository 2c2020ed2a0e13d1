"""The platform's own tables (definitions, revisions). Generated entity tables live elsewhere."""
from __future__ import annotations

import sqlalchemy as sa

from .db import NAMING_CONVENTION
from .sqltypes import UTCDateTime

platform_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

#: A single row holding the current metadata revision. Every worker reads it (one primary-key
#: lookup) at the start of a request to know whether its compiled caches are current, and every
#: metadata change locks it, so changes are serialised across processes.
meta_state = sa.Table(
    "crm_meta_state",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.Integer, nullable=False),
)

#: The current version of every definition (entity, and later taxonomy, pipeline, form, role).
definitions = sa.Table(
    "crm_definition",
    platform_metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("archived_at", UTCDateTime, nullable=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: One row per accepted change: the numbered, append-only history of the configuration.
revisions = sa.Table(
    "crm_revision",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Column("plan", sa.Text, nullable=False),
)

#: Every move of a record between stages of a pipeline (from_stage is null when the record
#: entered the pipeline, i.e. was created with a stage). Written by the record service's hooks.
stage_history = sa.Table(
    "crm_stage_history",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("from_stage", sa.String(64), nullable=True),
    sa.Column("to_stage", sa.String(64), nullable=False),
    sa.Column("actor_id", sa.BigInteger, nullable=True),
    sa.Column("moved_at", UTCDateTime, nullable=False),
    sa.Index("ix_crm_stage_history_entity_record", "entity", "record_id"),
    sa.Index("ix_crm_stage_history_pipeline_to", "pipeline", "to_stage"),
)

#: People who sign in. Passwords are argon2 hashes; ``roles`` is a JSON list of role keys.
users = sa.Table(
    "crm_user",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("roles", sa.Text, nullable=False, server_default="[]"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    #: Bumped when the user signs out or the password changes; a browser session signed with an
    #: older generation is no longer signed in (session cookies cannot be recalled otherwise).
    sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"),
    #: The name's key (``auth/names.py``): names with one key are one user name. Null only for
    #: users stored before the rule whose name shared a key with an older user's.
    sa.Column("username_key", sa.String(600), nullable=True),
    #: The TOTP second factor's base32 secret once the user confirmed it with a code (null: none), and the
    #: time step of the last code accepted, so a code is good once (auth/totp.py).
    sa.Column("totp_secret", sa.String(64), nullable=True),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
    sa.Index("ix_crm_user_username_key", "username_key", unique=True),
)

#: API tokens, stored as SHA-256 digests: a database leak does not hand out working tokens.
api_tokens = sa.Table(
    "crm_api_token",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("crm_user.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

#: The audit trail: one row per record create, update, delete, restore and bulk stage move, written
#: in the write's transaction. ``changes`` is JSON text {field: [old, new]} (crm_platform.jsonutil,
#: so decimals stay exact). Append-only through the product: no code path updates or deletes rows.
audit_log = sa.Table(
    "crm_audit",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.BigInteger, nullable=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("changes", sa.Text, nullable=False),
    #: A reason the system wrote (an approval step): its message key and JSON arguments, for the
    #: screens to say in the reader's language; ``reason`` holds the same in English (0017).
    sa.Column("reason_key", sa.String(64), nullable=True),
    sa.Column("reason_args", sa.Text, nullable=True),
    sa.Index("ix_crm_audit_entity_record", "entity", "record_id"),
)

#: Bundles (templates, imported configurations) installed here: name, version, checksum, and
#: when their sample data was loaded (it is loaded once per bundle name).
bundles = sa.Table(
    "crm_bundle",
    platform_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("checksum", sa.String(80), nullable=False),
    sa.Column("installed_at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("sample_data_at", UTCDateTime, nullable=True),
)

#: Each definition as a bundle last installed it (canonical JSON and its checksum): the common
#: ancestor that tells an admin's local change from the bundle's own, so an upgrade merges both.
bundle_definitions = sa.Table(
    "crm_bundle_definition",
    platform_metadata,
    sa.Column("bundle", sa.String(64), sa.ForeignKey("crm_bundle.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("checksum", sa.String(80), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

#: How each user last mapped an import file's columns to an entity's fields (JSON: header → field
#: key, or null for a column left out), offered again for next month's file.
import_mappings = sa.Table(
    "crm_import_mapping",
    platform_metadata,
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("mapping", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: Imports running in the background: any worker answers a poll from this row, which the runner
#: updates after each batch. ``status``: queued, running, done, failed; ``report`` is the final
#: answer (JSON, as the synchronous API gives it); ``path`` the uploaded file until it is done.
import_jobs = sa.Table(
    "crm_import_job",
    platform_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total", sa.Integer, nullable=True),
    sa.Column("processed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("report", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    # A running job's last committed batch: when (a process that stopped writing it has died) and the
    # report of the rows committed so far (``processed``), from which another process goes on.
    sa.Column("heartbeat_at", UTCDateTime, nullable=True),
    sa.Column("partial", sa.Text, nullable=True),
)

#: Periodic jobs of `crm worker` (``jobs/periodic.py``): when each last started, claimed by one
#: conditional update so that several workers never run the same period's job twice.
periodic_jobs = sa.Table(
    "crm_periodic_job",
    platform_metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("last_run_at", UTCDateTime, nullable=True),
    sa.Column("last_result", sa.Text, nullable=True),
)

#: Deliveries to the outside world (e-mails, webhooks), written in the same transaction as the
#: change that asks for them and sent by `crm worker` after it commits (``outbox.py``,
#: ``jobs/delivery.py``): a rolled-back write sends nothing, a crashed worker loses nothing.
outbox = sa.Table(
    "crm_outbox",
    platform_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("origin", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_crm_outbox_status_next", "status", "next_attempt_at"),
)

#: In-app notifications (the bell): reminders of due dates, and later what automations tell people.
#: ``title`` is a label (JSON ``{"en", "zh"}`` or text) shown in the reader's language; ``dedupe``
#: makes a periodic job's notification once per user and occasion however often the job runs.
notifications = sa.Table(
    "crm_notification",
    platform_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("entity", sa.String(64), nullable=True),
    sa.Column("record_id", sa.BigInteger, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("read_at", UTCDateTime, nullable=True),
    sa.Column("dedupe", sa.String(255), nullable=True),
    sa.Index("ix_crm_notification_user_read", "user_id", "read_at"),
    sa.UniqueConstraint("user_id", "dedupe", name="uq_crm_notification_user_dedupe"),
)

#: Global search: one row per searchable value of a record (``runtime/search.py`` keeps it in the
#: writing transaction). ``text`` is the value folded for matching (phones as national digits), so a
#: number is found however it was typed; the record's rights and recycle bin are read from its own
#: table at query time, never copied here. Indexed for substring search: FTS5 trigram on SQLite,
#: pg_trgm GIN on PostgreSQL (both created by migration 0016, outside this metadata).
search_index = sa.Table(
    "crm_search",
    platform_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Index("ix_crm_search_record", "entity", "record_id"),
)

#: Records a batch too large to index in its own transaction wrote (``runtime/search.py``): the
#: worker indexes them within the minute, or the next search first, whichever comes first.
search_pending = sa.Table(
    "crm_search_pending",
    platform_metadata,
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.BigInteger, primary_key=True),
)

#: Saved list views: a list's query (filters, sort, columns, page size as its query string) under a
#: name, private to its owner or shared with everyone holding ``role``.
saved_views = sa.Table(
    "crm_saved_view",
    platform_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("role", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_crm_saved_view_entity", "entity", "user_id"),
)

#: How each user last left each list (its query string and the fields it knew of), so a list reopens
#: as it was left and fields added since then join its columns by the default-columns rule.
list_states = sa.Table(
    "crm_list_state",
    platform_metadata,
    sa.Column("user_id", sa.Integer, primary_key=True),
    sa.Column("entity", sa.String(64), primary_key=True),
    sa.Column("query", sa.Text, nullable=False),
    sa.Column("known", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

#: Each time an automation rule acted on a record (``runtime/automation``): what triggered it, what
#: each action did (``actions``: JSON list of ``{"type", "outcome", "error"?, "delivery"?}``), how long
#: it took and, for a run stopped by the chain limits, why (status ``loop``). Read by the run log
#: (``GET /api/automations/<key>/runs``, the admin).
automation_runs = sa.Table(
    "crm_automation_run",
    platform_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("automation", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=True),
    sa.Column("trigger", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("actions", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_crm_automation_run_key", "automation", "id"),
)

#: Occurrences a time-triggered rule has acted on (a date reached, a stretch of inactivity, a
#: schedule's tick), so each record is acted on once per occurrence however often the worker runs.
automation_fired = sa.Table(
    "crm_automation_fired",
    platform_metadata,
    sa.Column("automation", sa.String(64), primary_key=True),
    sa.Column("record_id", sa.BigInteger, primary_key=True),
    sa.Column("occurrence", sa.String(100), primary_key=True),
    sa.Column("fired_at", UTCDateTime, nullable=False),
)

#: The last user a round-robin assignment gave a record to, per rule and action.
automation_cursor = sa.Table(
    "crm_automation_cursor",
    platform_metadata,
    sa.Column("automation", sa.String(64), primary_key=True),
    sa.Column("action", sa.Integer, primary_key=True),
    sa.Column("last_user_id", sa.Integer, nullable=True),
)

#: Approvals of pipeline moves (``runtime/approvals.py``): a move into a stage that asks for approval
#: leaves the record in its stage and writes a ``pending`` row here; an approver's decision makes it
#: ``approved`` (the move is then written through the record service) or ``rejected``. Approvers are a
#: role (judged on the approver's roles when they decide) or one user (the record's approver field,
#: read when the move was asked). At most one pending row per record (checked under the record's lock).
approvals = sa.Table(
    "crm_approval",
    platform_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(64), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("from_stage", sa.String(64), nullable=True),
    sa.Column("to_stage", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("approver_role", sa.String(64), nullable=True),
    sa.Column("approver_id", sa.Integer, nullable=True),
    sa.Column("requested_by", sa.Integer, nullable=True),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("decided_by", sa.Integer, nullable=True),
    sa.Column("decided_at", UTCDateTime, nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Index("ix_crm_approval_entity_record", "entity", "record_id"),
    sa.Index("ix_crm_approval_status", "status", "approver_role", "approver_id"),
)
