"""The versioned policy in the store: seeded from YAML, saved, validated, rolled back, audited,
and its changes heard in the event loop, by another Store, and over PostgreSQL's NOTIFY."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import create_engine, text

from routing.policy import Policy, PolicyError, load_policy
from store import PolicyConflict, Store
from store.db import normalise_url


def test_policy_seeded_from_yaml(store):
    version, policy = store.current_policy()
    assert version == 1 and policy == load_policy()
    [entry] = store.policy_history()
    assert entry["author"] == "system" and entry["action"] == "seed" and entry["from_version"] is None


def test_policy_save_validate_rollback_audit(store):
    seen: list[tuple[int, float]] = []
    unsubscribe = store.on_policy_change(lambda v, p: seen.append((v, p.frustration_threshold)))
    v1, p1 = store.current_policy()

    doc = p1.to_dict()
    doc["frustration"]["threshold"] = 0.7
    doc["sensitive_intents"] = ["complaint"]
    v2 = store.save_policy(doc, "alice", "less trigger-happy")
    assert v2 == 2 and store.current_policy() == (2, Policy.from_dict({**doc, "version": 2}))
    assert store.policy == (2, store.current_policy()[1])

    with pytest.raises(PolicyError, match="^frustration_threshold"):
        store.save_policy({**doc, "frustration": {"threshold": 1.5}}, "alice")
    with pytest.raises(PolicyError, match="^max_no_match"):
        store.save_policy({**doc, "max_no_match": 0}, "alice")
    with pytest.raises(PolicyError, match="^colour"):
        store.save_policy({**doc, "colour": "blue"}, "alice")
    with pytest.raises(PolicyConflict):
        store.save_policy(doc, "bob", expected_version=1)
    assert store.current_policy()[0] == 2  # nothing changed

    v3 = store.rollback_policy(1, "bob")
    assert v3 == 3 and store.current_policy()[1].to_dict() == {**p1.to_dict(), "version": 3}
    with pytest.raises(LookupError, match="version"):
        store.rollback_policy(42, "bob")

    history = store.policy_history()
    assert [(h["version"], h["author"], h["action"], h["from_version"]) for h in history] == [
        (3, "bob", "rollback", 2), (2, "alice", "save", 1), (1, "system", "seed", None)]
    assert history[1]["comment"] == "less trigger-happy"
    assert history[1]["diff"] == {
        "frustration.threshold": {"from": 0.6, "to": 0.7},
        "sensitive_intents": {"from": list(p1.sensitive_intents), "to": ["complaint"]}}
    assert history[0]["diff"]["frustration.threshold"] == {"from": 0.7, "to": 0.6}
    assert history[0]["document"]["version"] == 3
    assert [a["action"] for a in store.policy_audit()] == ["seed", "save", "rollback"]

    assert seen == [(2, 0.7), (3, 0.6)]
    unsubscribe()
    store.save_policy(p1, "carol", expected_version=3)
    assert len(seen) == 2


async def test_policy_change_reaches_the_event_loop(store):
    loop_thread = threading.get_ident()
    got: asyncio.Queue = asyncio.Queue()

    def sync_cb(version, policy):
        got.put_nowait(("sync", version, threading.get_ident()))

    async def async_cb(version, policy):
        await got.put(("async", version, threading.get_ident()))

    store.on_policy_change(sync_cb)
    store.on_policy_change(async_cb)
    version = await store.run(store.save_policy, Policy(max_no_input=4), "admin")  # saved on another thread
    # On PostgreSQL the listener may also report the version it found on connecting: wait for this one.
    want, seen = {("sync", version, loop_thread), ("async", version, loop_thread)}, set()
    while not want <= seen:
        seen.add(await asyncio.wait_for(got.get(), 5))
    assert {t for _, _, t in seen} == {loop_thread}


def test_refresh_policy_sees_another_process(db_url):
    # listen=False: this is the manual path (on PostgreSQL the listener would refresh b by itself;
    # tests/routing/test_store_cluster.py covers that).
    with Store(db_url) as a, Store(db_url, listen=False) as b:
        seen: list[int] = []
        b.on_policy_change(lambda v, p: seen.append(v))
        a.save_policy(Policy(max_no_match=4), "admin")
        assert b.policy[0] == 1  # b's cached copy is stale until told
        assert b.refresh_policy()[0] == 2 and seen == [2]
        assert b.refresh_policy()[0] == 2 and seen == [2]  # no change, no news


def test_a_read_older_than_the_cache_puts_nothing_back(db_url):
    """The listener thread's refresh can read version 2 while this process saves version 3 and
    land after it: the cache stays at 3 and nobody hears of 2 (or 3) again."""
    with Store(db_url, listen=False) as s:
        seen: list[int] = []
        s.on_policy_change(lambda v, p: seen.append(v))
        s.save_policy(Policy(max_no_match=4), "admin")
        stale = s.current_policy()
        s.save_policy(Policy(max_no_match=5), "admin")
        s._policies.current_policy = lambda: stale  # the slow read returns after the save
        assert s.refresh_policy()[0] == 3 and s.policy[0] == 3 and s.policy[1].max_no_match == 5
        assert seen == [2, 3]


def test_postgres_notifies_policy_changes(pg_server):
    import psycopg

    name = "notify_db"
    admin = create_engine(normalise_url(f"{pg_server}/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with Store(f"{pg_server}/{name}") as s, psycopg.connect(f"{pg_server}/{name}", autocommit=True) as listener:
            listener.execute("LISTEN ivr_policy")
            v = s.save_policy(Policy(max_no_match=4), "admin")
            notes = list(listener.notifies(timeout=5, stop_after=1))
            assert [(n.channel, n.payload) for n in notes] == [("ivr_policy", str(v))]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
