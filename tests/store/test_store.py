"""The call store on SQLite (a temporary file) and on a real PostgreSQL this module starts."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from store.migrations import MIGRATIONS
from routing.policy import Policy, PolicyError, load_policy
from store import PolicyConflict, Store, StoreClosed, migrate
from cluster.postgres import find_pg_bindir
from store import schema
from store.db import make_engine, normalise_url

CARD = "4111111111111111"
CARD_GROUPED = "4111 1111 1111 1111"
CARD_SPOKEN = "four one one one one one one one one one one one one one one one"
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- PostgreSQL

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_server():
    """A throwaway PostgreSQL cluster (fsync off) on a loopback port; as ``nobody`` when root."""
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    root = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        prefix = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True, env=env, cwd=root, timeout=60)  # noqa: E731
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
            "--locale=C")
        opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
                "-c synchronous_commit=off -c max_connections=60")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", opts, "-w", "-t", "30", "start")
    except subprocess.CalledProcessError as exc:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr.decode()} {log}") from None
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, env=env, cwd=root, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


_db_counter = iter(range(10_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ivr.db"
        return
    server = request.getfixturevalue("pg_server")
    name = f"t{os.getpid()}_{next(_db_counter)}"
    admin = create_engine(normalise_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def _turn(i: int, text_: str, intent: str = "order_status", score: float = 0.2) -> dict:
    return {"event": "turn", "index": i, "start": 1.0 + i * 3, "end": 2.5 + i * 3, "text": text_,
            "prosody": {"pitch_z": 0.4, "energy_z": -0.1}, "intent": intent, "confidence": 0.82,
            "entities": {"order_number": "A12345"},
            "frustration": {"score": score, "smoothed": score * 0.9, "parts": {"text": score, "prosody": 0.1}}}


def _all_rows_text(engine) -> str:
    """Every row of every store table, as text (what an attacker with the database would see)."""
    out = []
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"')):
                out.append(repr(tuple(row)))
    return "\n".join(out)


# --------------------------------------------------------------------------- round trips


async def test_round_trip(store):
    t0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    cid = store.call_started("a84b4c76e66710@pbx", "+15551234567", t0)
    store.record_event(cid, {"event": "bot", "start": 0.0, "text": "Hello, how can I help?", "interrupted": False,
                             "prompt": "greeting"})
    store.record_event(cid, _turn(0, "where is my order", score=0.3))
    store.record_event(cid, {"event": "dtmf", "digit": "0"})
    store.record_event(cid, {"event": "no_input", "at": 9.5})
    store.record_event(cid, {**_turn(1, "this is useless, get me a person", "speak_to_human", 0.7), "barge_in": True},
                       at=t0 + timedelta(seconds=12))
    store.record_event(cid, {"event": "decision", "action": "transfer", "reason": "explicit_request",
                             "rule": "explicit_request: caller asked for a person",
                             "values": {"intent": "speak_to_human"}, "policy_version": 1},
                       at=t0 + timedelta(seconds=12))
    store.record_event(cid, {"event": "summary", "paragraph": "Caller asked about an order.", "intent": "order_status",
                             "escalation_reason": "explicit_request", "frustration": [0.27, 0.6],
                             "transcript": [{"speaker": "caller", "text": "where is my order"}]})
    a1 = store.transfer_attempt_started(cid, "sip:bob@agents", t0 + timedelta(seconds=13))
    store.transfer_attempt_finished(a1, "no_answer", t0 + timedelta(seconds=33))
    a2 = store.transfer_attempt_started(cid, "sip:alice@agents", t0 + timedelta(seconds=33))
    store.transfer_attempt_finished(a2, "answered", t0 + timedelta(seconds=40))
    store.record_event(cid, {"event": "end", "outcome": "transferred"}, at=t0 + timedelta(seconds=300))
    store.call_ended(cid, "transferred", ended_at=t0 + timedelta(seconds=300))
    store.survey(cid, 4)
    cb = store.add_callback(cid, "+4915112345678")
    await store.flush()
    assert store.write_errors == 0, store.last_write_error

    [row] = store.list_calls()
    assert row["id"] == cid and row["sip_call_id"] == "a84b4c76e66710@pbx" and row["caller"] == "+15551234567"
    assert row["started_at"] == t0 and row["ended_at"] == t0 + timedelta(seconds=300)
    assert row["outcome"] == "transferred" and row["intent"] == "order_status"
    assert row["escalation_reason"] == "explicit_request" and row["agent"] == "sip:alice@agents"
    assert row["ended_abruptly"] is False

    call = store.get_call(cid)
    assert [t["text"] for t in call["turns"]] == ["where is my order", "this is useless, get me a person"]
    t1 = call["turns"][1]
    assert t1["index"] == 1 and t1["start"] == 4.0 and t1["end"] == 5.5 and t1["intent"] == "speak_to_human"
    assert t1["confidence"] == pytest.approx(0.82) and t1["entities"] == {"order_number": "A12345"}
    assert t1["frustration"] == {"score": 0.7, "smoothed": pytest.approx(0.63), "parts": {"text": 0.7, "prosody": 0.1},
                                 "drove": "words"}
    assert t1["prosody"] == {"pitch_z": 0.4, "energy_z": -0.1} and t1["barge_in"] is True
    assert call["turns"][0]["barge_in"] is False
    assert call["bot_replies"] == [{"start": 0.0, "text": "Hello, how can I help?", "interrupted": False,
                                    "prompt": "greeting"}]
    d = call["decision"]
    assert (d["reason"], d["rule"], d["values"], d["policy_version"]) == (
        "explicit_request", "explicit_request: caller asked for a person", {"intent": "speak_to_human"}, 1)
    assert call["summary"]["paragraph"] == "Caller asked about an order."
    assert call["summary"]["transcript"] == [{"speaker": "caller", "text": "where is my order"}]
    results = [(a["agent"], a["result"], a["time_to_transfer"]) for a in call["transfer_attempts"]]
    assert results == [("sip:bob@agents", "no_answer", None), ("sip:alice@agents", "answered", 28.0)]
    assert call["transfer_attempts"][0]["ended_at"] == t0 + timedelta(seconds=33)
    assert [s["score"] for s in call["survey"]] == [4]
    assert [(c["id"], c["number"], c["status"]) for c in call["callbacks"]] == [(cb, "+4915112345678", "pending")]

    events = store.get_events(cid)
    assert [e["seq"] for e in events] == list(range(8))
    assert [e["event"] for e in events] == ["bot", "turn", "dtmf", "no_input", "turn", "decision", "summary", "end"]
    assert events[2]["digit"] == "0"

    m = store.metrics()
    assert m["outcomes"] == {"transferred": 1} and m["containment_rate"] == 0.0
    assert m["escalations_by_reason"] == {"explicit_request": 1}
    assert m["time_to_transfer"] == [28.0]
    assert m["transfers"] == {"answered": 1, "abandoned": 0, "pending": 0,
                              "attempts_by_result": {"no_answer": 1, "answered": 1}}
    assert m["survey"]["count"] == 1 and m["survey"]["mean"] == 4.0
    assert store.get_call("nope") is None


async def test_each_turns_parts_round_trip_and_a_turn_stored_without_them_reads_back(store):
    """The per-turn parts the call page and the API show: kept with the turn (the ``frustration_parts``
    column, there since migration 1), with the part that drove the turn worked out on reading. A
    turn stored before the parts were sent, or by a writer that sends none, reads back with parts
    and driver None."""
    cid = store.call_started(None, "+15550001111", datetime(2026, 3, 1, tzinfo=timezone.utc))
    parts = {"text": 0.31, "prosody": 2.05, "dialogue": 0.4, "bias": -3.1}
    store.record_event(cid, {"event": "turn", "index": 0, "text": "I already told you",
                             "frustration": {"score": 0.71, "smoothed": 0.6, "parts": parts}})
    store.record_event(cid, {"event": "turn", "index": 1, "text": "no parts sent",
                             "frustration": {"score": 0.2, "smoothed": 0.4}})
    store.record_event(cid, {"event": "turn", "index": 2, "text": "a bare score", "frustration": 0.3})
    await store.flush()
    with store.engine.begin() as conn:  # a row as an older writer left it: no parts at all
        conn.execute(schema.turns.insert().values(call_id=cid, turn_index=3, text="old row", frustration_score=0.5,
                                                  frustration_smoothed=0.45))
    turns = store.get_call(cid)["turns"]
    assert [t["frustration"] for t in turns] == [
        {"score": 0.71, "smoothed": 0.6, "parts": parts, "drove": "voice"},
        {"score": 0.2, "smoothed": 0.4, "parts": None, "drove": None},
        {"score": 0.3, "smoothed": None, "parts": None, "drove": None},
        {"score": 0.5, "smoothed": 0.45, "parts": None, "drove": None},
    ]


async def test_metrics_over_several_calls(store):
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    outcomes = ["bot_resolved", "bot_resolved", "bot_resolved", "transferred", "transferred", "caller_hung_up"]
    ids = []
    for i, outcome in enumerate(outcomes):
        cid = store.call_started(f"c{i}", None, t0 + timedelta(minutes=i))
        ids.append(cid)
        if outcome == "transferred":
            store.record_event(cid, {"event": "decision", "action": "transfer", "reason": ["frustration", "dtmf"][i - 3],
                                     "rule": "r", "values": {}, "policy_version": 1}, at=t0 + timedelta(minutes=i))
            a = store.transfer_attempt_started(cid, "agent", t0 + timedelta(minutes=i, seconds=1))
            store.transfer_attempt_finished(a, "answered" if i == 3 else "no_answer", t0 + timedelta(minutes=i, seconds=9))
        store.call_ended(cid, outcome, ended_at=t0 + timedelta(minutes=i, seconds=30))
        store.survey(cid, 1 + i % 5)
    store.call_started("live", None, t0 + timedelta(hours=1))  # still going
    await store.flush()
    m = store.metrics()
    assert m["outcomes"] == {"bot_resolved": 3, "transferred": 2, "caller_hung_up": 1, "in_progress": 1}
    assert m["containment_rate"] == 0.5
    assert m["escalations_by_reason"] == {"frustration": 1, "dtmf": 1}
    assert m["time_to_transfer"] == [9.0]
    assert (m["transfers"]["answered"], m["transfers"]["abandoned"]) == (1, 1)
    assert m["survey"]["distribution"] == {1: 2, 2: 1, 3: 1, 4: 1, 5: 1}
    assert store.metrics(since=t0 + timedelta(minutes=4))["outcomes"] == {"transferred": 1, "caller_hung_up": 1,
                                                                          "in_progress": 1}
    # newest first, paged
    assert [c["sip_call_id"] for c in store.list_calls(3)] == ["live", "c5", "c4"]
    assert [c["sip_call_id"] for c in store.list_calls(2, offset=3)] == ["c3", "c2"]
    assert store.count_calls() == 7


# --------------------------------------------------------------------------- ends, abrupt and otherwise


async def test_call_without_end_is_listed_with_null_ended_at(store):
    cid = store.call_started("x@pbx", "+15550000001")
    store.record_event(cid, _turn(0, "hello"))
    store.call_ended(store.call_started("y@pbx", None), "caller_hung_up", abruptly=True)
    await store.flush()
    by_sip = {c["sip_call_id"]: c for c in store.list_calls()}
    assert by_sip["x@pbx"]["ended_at"] is None and by_sip["x@pbx"]["outcome"] is None
    assert by_sip["y@pbx"]["ended_at"] is not None and by_sip["y@pbx"]["ended_abruptly"] is True
    assert by_sip["y@pbx"]["outcome"] == "caller_hung_up"


def test_process_dies_mid_call_keeps_what_was_said(db_url, tmp_path):
    """Every write commits as it comes: a process killed mid-call (no end, no close, no flush of
    the rest) leaves its earlier turns in the database, and the call reads as not ended."""
    script = textwrap.dedent(f"""
        import asyncio, os, sys
        from store import Store
        async def main():
            s = Store({db_url!r})
            cid = s.call_started("dies@pbx", "+15550000002")
            s.record_event(cid, {{"event": "turn", "index": 0, "text": "first thing I said"}})
            s.record_event(cid, {{"event": "turn", "index": 1, "text": "second thing I said"}})
            await s.flush()
            print(cid, flush=True)
            os._exit(9)   # no close, no end: as if the worker was killed
        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 9, out.stderr
    cid = out.stdout.strip()
    with Store(db_url) as s:
        [row] = s.list_calls()
        assert row["id"] == cid and row["ended_at"] is None and row["outcome"] is None
        assert [t["text"] for t in s.get_call(cid)["turns"]] == ["first thing I said", "second thing I said"]
        # the event numbering carries on after the restart
        s.record_event(cid, {"event": "end", "outcome": "caller_hung_up"})
        s.flush_sync()
        assert [e["seq"] for e in s.get_events(cid)] == [0, 1, 2]


async def test_close_writes_everything_queued(db_url):
    s = Store(db_url)
    cid = s.call_started("q@pbx", None)
    for i in range(50):
        s.record_event(cid, _turn(i, f"turn {i}"))
    s.close()  # no flush: close drains the queue
    with pytest.raises(StoreClosed):
        s.record_event(cid, _turn(99, "too late"))
    with Store(db_url) as s2:
        assert len(s2.get_call(cid)["turns"]) == 50


async def test_a_failed_write_does_not_stop_the_writer(store, caplog):
    store.record_event("no-such-call", _turn(0, "what the orphan said"))  # foreign key: refused
    cid = store.call_started("ok@pbx", None)
    store.record_event(cid, _turn(0, "fine"))
    await store.flush()
    assert store.write_errors == 1
    assert "not written" in caplog.text and "what the orphan said" not in caplog.text  # no parameters in logs
    assert [t["text"] for t in store.get_call(cid)["turns"]] == ["fine"]


async def test_bad_event_fields_keep_the_raw_event(store):
    cid = store.call_started("odd@pbx", None)
    store.record_event(cid, {"event": "turn", "index": "zero", "text": 42, "frustration": 0.5, "entities": {1, 2}})
    store.record_event(cid, {"event": "mystery", "payload": object()})
    store.record_event(cid, {"event": "odd", "lock": threading.Lock(), "text": f"card {CARD}"})  # not copyable
    await store.flush()
    assert store.write_errors == 0
    [turn] = store.get_call(cid)["turns"]
    assert turn["index"] == 0 and turn["text"] is None and turn["frustration"]["score"] == 0.5
    events = store.get_events(cid)
    assert [e["event"] for e in events] == ["turn", "mystery", "odd"]
    assert events[2]["text"] == "card [card number]"


def test_validation_happens_in_the_caller(store):
    cid = store.call_started("v@pbx", None)
    with pytest.raises(ValueError, match="score"):
        store.survey(cid, 6)
    with pytest.raises(ValueError, match="outcome"):
        store.call_ended(cid, "exploded")
    with pytest.raises(ValueError, match="result"):
        store.transfer_attempt_finished("x", "maybe")
    with pytest.raises(ValueError, match="aware"):
        store.call_started("n@pbx", None, datetime(2026, 1, 1))


# --------------------------------------------------------------------------- redaction


async def test_card_numbers_never_stored_in_clear(store):
    cid = store.call_started("pan@pbx", "+15551112222")
    store.record_event(cid, _turn(0, f"my card number is {CARD_GROUPED}"))
    store.record_event(cid, {**_turn(1, f"it's {CARD_SPOKEN}"), "entities": {"card": CARD, "pan_int": int(CARD),
                                                                           f"k{CARD}": [CARD]}})
    store.record_event(cid, {"event": "bot", "start": 3.0, "text": f"I heard {CARD}", "interrupted": False,
                             "echo": {"nested": [f"x-{CARD}-y"]}})
    store.record_event(cid, {"event": "decision", "action": "transfer", "reason": "sensitive_intent",
                             "rule": f"rule {CARD}", "values": {"said": CARD}, "policy_version": 1})
    store.record_event(cid, {"event": "summary", "paragraph": f"Caller read out {CARD_GROUPED}.",
                             "transcript": [{"speaker": "caller", "text": CARD}], "entities": {"card": CARD}})
    store.save_policy(Policy(), "admin", comment=f"pasted {CARD} by mistake")
    await store.flush()
    assert store.write_errors == 0
    dump = _all_rows_text(store.engine)
    assert "[card number]" in dump
    for needle in (CARD, CARD_GROUPED, CARD_SPOKEN, "1111-1111", "1111 1111 1111"):
        assert needle not in dump
    call = store.get_call(cid)
    assert call["turns"][0]["text"] == "my card number is [card number]"
    assert call["turns"][1]["entities"] == {"card": "[card number]", "pan_int": "[card number]",
                                            "k[card number]": ["[card number]"]}
    if store.engine.dialect.name == "sqlite":  # and not in the file's bytes either (WAL checkpointed on close)
        path = store.engine.url.database
        store.close()
        blob = b"".join(Path(p).read_bytes() for p in glob.glob(path + "*"))
        assert CARD.encode() not in blob and CARD_GROUPED.encode() not in blob


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_calls(store):
    n_calls, n_turns = 24, 12

    async def one_call(i: int) -> str:
        cid = store.call_started(f"conc-{i}@pbx", f"+1555000{i:04d}")
        for k in range(n_turns):
            store.record_event(cid, _turn(k, f"call {i} turn {k}"))
            store.record_event(cid, {"event": "bot", "start": k * 3.0, "text": f"reply {i}.{k}", "interrupted": False})
            await asyncio.sleep(0)  # interleave with the other calls
        store.call_ended(cid, "bot_resolved")
        return cid

    def from_a_thread(j: int, out: list) -> None:  # writers on other threads too
        for k in range(10):
            cid = store.call_started(f"thr-{j}-{k}@pbx", None)
            store.record_event(cid, _turn(0, f"thread {j} call {k}"))
            out.append(cid)

    thread_ids: list[str] = []
    threads = [threading.Thread(target=from_a_thread, args=(j, thread_ids)) for j in range(4)]
    for th in threads:
        th.start()
    ids = await asyncio.gather(*(one_call(i) for i in range(n_calls)))
    for th in threads:
        th.join()
    await store.flush()
    assert store.write_errors == 0, store.last_write_error
    assert store.count_calls() == n_calls + 40
    for i, cid in enumerate(ids):
        call = store.get_call(cid)
        assert [t["text"] for t in call["turns"]] == [f"call {i} turn {k}" for k in range(n_turns)]
        assert len(call["bot_replies"]) == n_turns and call["outcome"] == "bot_resolved"
        assert [e["seq"] for e in store.get_events(cid)] == list(range(2 * n_turns + 0))
    assert all(len(store.get_call(c)["turns"]) == 1 for c in thread_ids)


async def test_writes_never_wait_for_the_database(tmp_path):
    """While another process holds SQLite's write lock, queuing writes still returns at once;
    they land when the lock is released."""
    url = f"sqlite:///{tmp_path}/locked.db"
    s = Store(url)
    try:
        blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        t = time.perf_counter()
        cid = s.call_started("locked@pbx", None)
        for k in range(200):
            s.record_event(cid, _turn(k, f"t{k}"))
        elapsed = time.perf_counter() - t
        assert elapsed < 0.5, elapsed
        await asyncio.sleep(0.3)
        blocker.execute("COMMIT")
        blocker.close()
        await asyncio.wait_for(s.flush(), 30)
        assert len(s.get_call(cid)["turns"]) == 200
    finally:
        s.close()


# --------------------------------------------------------------------------- migrations


def test_migrations_are_idempotent(db_url):
    engine = make_engine(db_url)
    try:
        assert migrate(engine) == [m.VERSION for m in MIGRATIONS]
        assert migrate(engine) == []
        with engine.connect() as conn:
            versions = list(conn.scalars(select(schema.schema_version.c.version)))
        assert versions == [m.VERSION for m in MIGRATIONS]
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
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the policy


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


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        Store("sqlite://")
