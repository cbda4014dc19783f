"""Bring a database's schema up to date with Alembic, at start-up, safely from several workers.

The revisions are in ``store/alembic/versions`` and ``store/schema.py`` is the schema they leave
behind (a test autogenerates against a migrated database and expects no difference). A schema
change is an edit of ``schema.py`` plus a new revision
(``alembic -c store/alembic.ini revision --autogenerate``), never an edit of a released one.

Several workers may start together against one database: the whole upgrade runs in one
transaction that first takes the migration lock (``pg_advisory_xact_lock`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite), so one of them migrates and the others then find nothing to do.
A database made by the hand-written migrations this replaced (``schema_version`` rows 1 to 3)
is stamped at the matching revision, then upgraded; its ``schema_version`` table is left as it
was, unused, so an older release started against it still finds its own bookkeeping.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from .db import MIGRATION_LOCK, SQLITE_BEGIN, is_postgres

log = logging.getLogger("store")

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"
# The hand-written migrations' schema_version → the Alembic revision that leaves the same schema.
LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003"}
LEGACY_TABLE = "schema_version"
# Alembic keeps the running migration's context in a module global: one upgrade per process at a
# time (taken before the database's lock, always in that order).
_PROCESS_LOCK = threading.Lock()


def alembic_config() -> Config:
    """The configuration ``alembic.ini`` would give, built in code (no file is read)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction holding the migration lock until it commits."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        with conn.begin():
            if is_postgres(engine):
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            yield conn


def migrate(engine: Engine) -> list[str]:
    """Bring the schema up to date; returns the revisions applied now (empty when up to date).

    Idempotent, and safe when several workers start at once (see the module docstring). All
    pending revisions, and the stamp of a legacy database, commit together or not at all.
    """
    cfg = alembic_config()
    with _PROCESS_LOCK, locked(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    applied: list[str] = cfg.attributes.get("applied", [])
    for rev in applied:
        log.info("store: applied schema revision %s", rev)
    return applied


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def adopt_legacy(ctx: MigrationContext, script: ScriptDirectory) -> str | None:
    """Stamp a database the hand-written migrations made at the revision its newest
    ``schema_version`` row names (once: only while it has no Alembic version yet); returns it."""
    conn = ctx.connection
    assert conn is not None
    if ctx.get_current_heads() or not inspect(conn).has_table(LEGACY_TABLE):
        return None
    version = conn.scalar(text(f"SELECT max(version) FROM {LEGACY_TABLE}"))
    if version is None:
        return None
    revision = LEGACY_REVISIONS.get(int(version))
    if revision is None:
        raise RuntimeError(f"{LEGACY_TABLE} says version {version}, which this release does not know")
    log.info("store: database from the hand-written migrations (version %s): stamping revision %s",
             version, revision)
    ctx.stamp(script, revision)
    return revision


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate leaves the legacy ``schema_version`` table alone (it is not in ``schema.py``)."""
    return not (type_ == "table" and name == LEGACY_TABLE)
