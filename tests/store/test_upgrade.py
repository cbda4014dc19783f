"""The schema's upgrades (Alembic, run at start-up): idempotent, safe from several workers at
once, leaving exactly the schema ``store/schema.py`` declares (autogenerate finds no drift), and
taking a database made by the old hand-written migrations, at any of their versions, up to the
head revision with its rows kept."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect, insert, select

from routing.policy import Policy, load_policy
from store import Store, migrate, schema
from store.db import make_engine
from store.upgrade import LEGACY_REVISIONS, alembic_config, current_revision, head_revision, include_object
from tests.store import legacy_migrations as legacy
from tests.store.support import ROOT

REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]


def _drift(engine, metadata: MetaData = schema.metadata) -> list:
    """What ``alembic revision --autogenerate`` would write: the database against ``metadata``."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        return compare_metadata(ctx, metadata)


def test_the_revisions_are_one_line_from_0001_to_the_head():
    script = ScriptDirectory.from_config(alembic_config())
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == REVISIONS
    assert head_revision() == REVISIONS[-1] and script.get_heads() == [REVISIONS[-1]]
    assert sorted(LEGACY_REVISIONS.values()) == REVISIONS[: len(LEGACY_REVISIONS)]  # every old version has its revision
    # the file developers run `alembic` with points at the same scripts
    from alembic.config import Config
    by_hand = ScriptDirectory.from_config(Config(str(ROOT / "store" / "alembic.ini")))
    assert by_hand.get_current_head() == REVISIONS[-1]


def test_migrations_are_idempotent(db_url):
    engine = make_engine(db_url)
    try:
        assert migrate(engine) == REVISIONS
        assert migrate(engine) == []
        assert current_revision(engine) == REVISIONS[-1]
    finally:
        engine.dispose()
    with Store(db_url) as s1:
        s1.save_policy(Policy(max_no_match=5), "admin")
    with Store(db_url) as s2:  # a second start migrates nothing and seeds nothing
        assert [h["version"] for h in s2.policy_history()] == [2, 1]
        assert s2.current_policy()[1].max_no_match == 5


def test_migrations_from_several_workers_at_once(db_url):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Store(db_url).close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with Store(db_url) as s:
        assert [h["version"] for h in s.policy_history()] == [1]


def test_migrated_schema_matches_the_declared_one(db_url):
    engine = make_engine(db_url)
    try:
        migrate(engine)
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= set(schema.metadata.tables)
        for name, table in schema.metadata.tables.items():
            got = {c["name"]: c["nullable"] for c in insp.get_columns(name)}
            want = {c.name: c.nullable for c in table.columns}
            assert got == want, name
        assert _drift(engine) == []  # autogenerate would write an empty revision
    finally:
        engine.dispose()


def test_autogenerate_sees_a_change_to_the_declared_schema(db_url):
    """The drift check is not vacuous: a column declared but not migrated is found."""
    changed = MetaData()
    for table in schema.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["workers"].append_column(Column("zone", String(16)))
    engine = make_engine(db_url)
    try:
        migrate(engine)
        assert [(d[0], d[2], d[3].name) for d in _drift(engine, changed)] == [("add_column", "workers", "zone")]
    finally:
        engine.dispose()


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def _old_rows(conn, upto: int) -> None:
    """A little of everything the old schema at version ``upto`` could hold."""
    conn.execute(insert(legacy.calls).values(id="c1", sip_call_id="old@pbx", caller="+15550009999", started_at=NOW,
                                             outcome="transferred", ended_abruptly=False))
    conn.execute(insert(legacy.turns).values(call_id="c1", turn_index=0, text="an old turn", barge_in=False))
    conn.execute(insert(legacy.events).values(call_id="c1", seq=0, kind="turn", at=NOW,
                                              data={"event": "turn", "text": "an old turn"}))
    doc = {**load_policy().to_dict(), "version": 1}
    conn.execute(insert(legacy.policy_versions).values(version=1, document=doc, author="old-admin",
                                                       created_at=NOW, comment="from before Alembic"))
    if upto >= 2:
        conn.execute(insert(legacy.users).values(name="ann", role="admin", password_hash="$argon2id$x",
                                                 created_at=NOW, disabled=False))
    if upto >= 3:
        conn.execute(insert(legacy.workers).values(id="w-old", started_at=NOW, heartbeat_at=NOW))


@pytest.mark.parametrize("upto", [1, 2, 3])
def test_a_database_from_the_hand_written_migrations_upgrades_keeping_its_rows(db_url, upto):
    engine = make_engine(db_url)
    try:
        assert legacy.migrate_legacy(engine, upto) == list(range(1, upto + 1))
        with engine.begin() as conn:
            _old_rows(conn, upto)
        assert migrate(engine) == REVISIONS[upto:]  # stamped at the old version, then upgraded
        assert current_revision(engine) == REVISIONS[-1]
        assert migrate(engine) == []
        assert _drift(engine) == []
        with engine.connect() as conn:  # the old bookkeeping is left as it was
            assert list(conn.scalars(select(legacy.schema_version.c.version))) == list(range(1, upto + 1))
    finally:
        engine.dispose()
    with Store(db_url, listen=False) as s:
        call = s.get_call("c1")
        assert call["caller"] == "+15550009999" and call["outcome"] == "transferred" and call["worker"] is None
        assert [t["text"] for t in call["turns"]] == ["an old turn"]
        assert [e["event"] for e in s.get_events("c1")] == ["turn"]
        assert [(h["version"], h["author"]) for h in s.policy_history()] == [(1, "old-admin")]  # not re-seeded
        if upto >= 2:
            assert s.accounts.get_user("ann")["role"] == "admin"
        assert [w["id"] for w in s.workers()] == (["w-old"] if upto >= 3 else [])
        s.register_worker("w-new", heartbeat_s=60)  # the new columns work on the old rows
        cid = s.call_started("new@pbx", None)
        s.record_event(cid, {"event": "turn", "index": 0, "text": "a new turn"})
        assert s.flush_sync(10) and s.write_errors == 0, s.last_write_error
        assert s.get_call(cid)["worker"] == "w-new"


def test_a_legacy_version_this_release_does_not_know_is_refused(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/future.db")
    try:
        legacy.migrate_legacy(engine, 3)
        with engine.begin() as conn:
            conn.execute(insert(legacy.schema_version).values(version=4, description="from the future",
                                                              applied_at=NOW))
        with pytest.raises(RuntimeError, match="version 4"):
            migrate(engine)
        assert current_revision(engine) is None  # nothing half-done: the stamp rolled back too
    finally:
        engine.dispose()
