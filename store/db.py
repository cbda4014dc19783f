"""Engines: SQLite by default, PostgreSQL by URL (the schema is brought up to date by ``upgrade``).

SQLite runs in WAL mode (readers never wait for the writer thread), with foreign keys on, and
with real transactions (pysqlite's own implicit transaction handling is switched off, so DDL is
transactional and ``BEGIN IMMEDIATE`` can be asked for by writers). PostgreSQL goes through
psycopg 3; plain ``postgresql://`` URLs are taken to mean it. Errors never carry the statement's
parameters (``hide_parameters``): what a caller said stays out of the logs.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger("store")

DEFAULT_URL = "sqlite:///var/ivr.db"
# pg_advisory_xact_lock keys: one per thing several workers may do at once.
MIGRATION_LOCK = 0x1F7C_0001
POLICY_LOCK = 0x1F7C_0002
SWEEP_LOCK = 0x1F7C_0003
# Execution option naming how a SQLite transaction begins ("BEGIN" or "BEGIN IMMEDIATE").
SQLITE_BEGIN = "ivr_sqlite_begin"


def normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str = DEFAULT_URL, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if not u.database or u.database == ":memory:" or u.database.startswith("file:"):
            raise ValueError("the store needs a SQLite file (sqlite:///path/to/ivr.db), not an in-memory database")
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, hide_parameters=True, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            # Switching a new file to WAL needs a moment alone with it, and this PRAGMA does not wait
            # on the busy timeout: when several workers open a fresh database at once, retry.
            for attempt in range(100):
                try:
                    cur.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 99:
                        raise
                    time.sleep(0.05)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql(conn.get_execution_options().get(SQLITE_BEGIN, "BEGIN"))

        return engine
    # connect_timeout: a database that is down must fail a write fast, so the writer can wait for it.
    return create_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"connect_timeout": 3})


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def write_conn(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite: the write lock is
    taken at the start, so two writers never deadlock upgrading their locks), committed on exit."""
    with engine.connect() as conn:
        conn.execution_options(**{SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        with conn.begin():
            yield conn
