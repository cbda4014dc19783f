"""Several workers on one real PostgreSQL (started, stopped and restarted here): policy changes
reach every worker, agent claims keep two workers off one agent, writes survive a database
restart in order, and the calls of a dead worker are closed as interrupted."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from cluster.postgres import Postgres, find_pg_bindir
from routing.agents import AgentDirectory, Presence
from routing.policy import Policy
from routing.queue import CallQueue
from store import Store

pytestmark = pytest.mark.skipif(find_pg_bindir() is None, reason="PostgreSQL server binaries not installed")

_names = iter(range(10_000))


@pytest.fixture(scope="module")
def pg():
    server = Postgres.create()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def url(pg):
    if not pg.running:  # a test that failed mid-restart must not break the next ones
        pg.start()
    return pg.create_database(f"c{next(_names)}")


def wait_until(predicate, timeout: float, what: str, step: float = 0.02):
    """Poll `predicate` (bounded in time); its truthy value, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_policy_saved_on_one_worker_is_live_on_the_others_within_2s(url):
    with Store(url) as a, Store(url) as b, Store(url) as c:
        for s in (a, b, c):
            wait_until(lambda s=s: s.listening, 10, "the listener to connect")
        heard: dict[str, tuple[int, float]] = {}
        done = threading.Event()

        def subscriber(name):
            def cb(version, policy):
                heard[name] = (version, time.monotonic())
                if len(heard) == 2:
                    done.set()
            return cb

        b.on_policy_change(subscriber("b"))
        c.on_policy_change(subscriber("c"))
        t0 = time.monotonic()
        v = a.save_policy(Policy(max_no_match=4), "admin", "from worker a")
        assert done.wait(5), heard
        assert {k: ver for k, (ver, _) in heard.items()} == {"b": v, "c": v}
        lag = max(at for _, at in heard.values()) - t0
        assert lag < 2.0, lag
        assert b.policy[0] == v and b.policy[1].max_no_match == 4


def _directory(store: Store, worker: str) -> AgentDirectory:
    from types import SimpleNamespace

    store.register_worker(worker, heartbeat_s=0.5, stale_s=5)
    return AgentDirectory([{"id": "alice", "sip_uri": "sip:alice@127.0.0.1:5999"}],
                          claims=SimpleNamespace(claim=store.claim_agent, release=store.release_agent))


def test_two_workers_racing_for_one_agent_never_both_get_her(url):
    with Store(url) as a, Store(url) as b:
        da, db = _directory(a, "w1"), _directory(b, "w2")
        barrier = threading.Barrier(2)
        rounds, won = 30, {"w1": 0, "w2": 0}
        for i in range(rounds):
            results: dict[str, bool] = {}

            def race(name, d):
                barrier.wait(5)
                results[name] = d.reserve("alice", f"call-{name}-{i}")

            threads = [threading.Thread(target=race, args=("w1", da)), threading.Thread(target=race, args=("w2", db))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert sorted(results.values()) == [False, True], (i, results)
            winner = "w1" if results["w1"] else "w2"
            won[winner] += 1
            assert a.agent_claims() == {"alice": winner}
            # The winner's call ends (no answer): the claim goes; the loser may offer her again.
            (da if winner == "w1" else db).set_presence("alice", Presence.AVAILABLE)
            for d in (da, db):
                d.status("alice").held_elsewhere = False
            assert a.agent_claims() == {}
        assert won["w1"] + won["w2"] == rounds


async def test_a_call_waiting_on_another_worker_gets_the_agent_when_she_is_released(url):
    """Worker 2 finds alice claimed by worker 1; the release (NOTIFY) wakes worker 2's queue."""
    import asyncio

    loop = asyncio.get_running_loop()
    with Store(url) as a, Store(url) as b:
        await loop.run_in_executor(None, wait_until, lambda: a.listening and b.listening, 10, "listeners")
        da, db = _directory(a, "w1"), _directory(b, "w2")
        a.on_agent_claims(lambda holders: da.sync_claims(holders, "w1"), loop=loop)
        b.on_agent_claims(lambda holders: db.sync_claims(holders, "w2"), loop=loop)
        qa, qb = CallQueue(da), CallQueue(db)
        got_a = await qa.wait_for_agent("call-1", timeout=0)
        assert got_a is not None and got_a.id == "alice"
        waiting = asyncio.create_task(qb.wait_for_agent("call-2", timeout=10))
        await asyncio.sleep(0.3)
        assert not waiting.done() and db.status("alice").held_elsewhere
        t0 = time.monotonic()
        qa.answered("alice", "call-1")
        qa.hangup("alice")
        qa.release("alice")  # wrap-up over: the claim is released on worker 1
        got_b = await asyncio.wait_for(waiting, 5)
        assert got_b is not None and got_b.id == "alice"
        assert time.monotonic() - t0 < 2.0
        assert await asyncio.to_thread(b.agent_claims) == {"alice": "w2"}
        # ...and worker 1 now sees her as held elsewhere.
        await asyncio.to_thread(wait_until, lambda: da.status("alice").held_elsewhere, 5, "w1 to hear of w2's claim")
        qa.close()
        qb.close()


def test_writes_made_while_postgres_restarts_are_written_afterwards_in_order(pg, url):
    with Store(url, retry_max_s=0.5) as s:
        wait_until(lambda: s.listening, 10, "the listener to connect")
        cid = s.call_started("restart@pbx", "+15550000003")
        for i in range(5):
            s.record_event(cid, {"event": "turn", "index": i, "text": f"before {i}"})
        assert s.flush_sync(10)
        pg.stop("fast")
        try:
            for i in range(5, 40):
                s.record_event(cid, {"event": "turn", "index": i, "text": f"during {i}"})
            wait_until(lambda: s.outage_since is not None, 10, "the writer to notice the outage")
            wait_until(lambda: s.write_retries >= 3, 10, "the writer to retry")
            assert s.backlog > 0
        finally:
            pg.start()
        s.record_event(cid, {"event": "turn", "index": 40, "text": "after"})
        s.call_ended(cid, "bot_resolved")
        assert s.flush_sync(30)
        assert s.outage_since is None and s.write_errors == 0
        events = s.get_events(cid)
        assert [e["seq"] for e in events] == list(range(41))
        assert [e["index"] for e in events] == list(range(41))
        call = s.get_call(cid)
        assert call["outcome"] == "bot_resolved" and len(call["turns"]) == 41
        # The listener reconnected: a policy change made elsewhere still arrives.
        wait_until(lambda: s.listening, 15, "the listener to reconnect")
        heard = threading.Event()
        s.on_policy_change(lambda v, p: heard.set())
        with Store(url) as other:
            other.save_policy(Policy(max_no_input=4), "admin")
        assert heard.wait(5)


def test_a_dead_workers_open_calls_are_closed_as_interrupted_keeping_what_was_said(url):
    dead = Store(url)
    dead.register_worker("w1", heartbeat_s=0.2, stale_s=1.0)
    cid = dead.call_started("dies@pbx", "+15550000004")
    dead.record_event(cid, {"event": "turn", "index": 0, "text": "my order never came"})
    dead.record_event(cid, {"event": "bot", "text": "Let me check that order."})
    ended = dead.call_started("ok@pbx", None)
    dead.call_ended(ended, "bot_resolved")
    assert dead.flush_sync(10)
    last_at = dead.get_events(cid)[-1]["at"]
    dead._housekeeping_stop.set()  # its heartbeat stops, as when the process is killed
    dead._housekeeper.join(5)
    try:
        with Store(url) as alive:
            alive.register_worker("w2", heartbeat_s=0.2, stale_s=1.0)
            call = wait_until(lambda: (c := alive.get_call(cid)) and c["outcome"] == "interrupted" and c,
                              10, "the sweep to close the dead worker's call")
            assert call["ended_abruptly"] and call["ended_at"] == last_at
            assert [t["text"] for t in call["turns"]] == ["my order never came"]
            assert [r["text"] for r in call["bot_replies"]] == ["Let me check that order."]
            events = alive.get_events(cid)
            assert events[-1]["event"] == "interrupted" and events[-1]["worker"] == "w1"
            assert events[-1]["found_by"] == "w2" and events[-1]["reason"] == "worker_died"
            assert alive.get_call(ended)["outcome"] == "bot_resolved"  # finished calls untouched
            assert [w["id"] for w in alive.workers()] == ["w2"]
    finally:
        dead.close()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_restarted_worker_closes_the_calls_it_left_open(backend, request, tmp_path):
    url = request.getfixturevalue("url") if backend == "postgresql" else f"sqlite:///{tmp_path}/ivr.db"
    with Store(url) as first:
        first.register_worker("w1", heartbeat_s=0.5, stale_s=5)
        cid = first.call_started("open@pbx", None)
        first.record_event(cid, {"event": "turn", "index": 0, "text": "hello"})
        assert first.flush_sync(10)
    with Store(url) as again:  # same worker id, as after a crash and a restart
        assert again.register_worker("w1", heartbeat_s=0.5, stale_s=5) == [cid]
        call = again.get_call(cid)
        assert call["outcome"] == "interrupted" and call["worker"] == "w1"
        assert again.get_events(cid)[-1]["reason"] == "worker_restarted"
        assert again.get_call(cid)["ended_at"] <= datetime.now(timezone.utc)


def test_remote_sign_in_steps():
    from routing.shared_presence import remote_step

    assert remote_step(Presence.AVAILABLE, "away") is Presence.AWAY
    assert remote_step(Presence.WRAP_UP, "away") is Presence.AWAY
    assert remote_step(Presence.AWAY, "available") is Presence.AVAILABLE
    for busy in (Presence.RINGING, Presence.ON_CALL):  # a call here is left alone
        assert remote_step(busy, "away") is None and remote_step(busy, "available") is None
    assert remote_step(Presence.AVAILABLE, "available") is None


async def test_an_agent_away_on_one_worker_is_away_on_all_and_back_wakes_their_queues(url):
    import asyncio

    from routing.shared_presence import SharedPresence

    loop = asyncio.get_running_loop()
    with Store(url) as a, Store(url) as b:
        await loop.run_in_executor(None, wait_until, lambda: a.listening and b.listening, 10, "listeners")
        da, db = _directory(a, "w1"), _directory(b, "w2")
        for store, d, me in ((a, da, "w1"), (b, db, "w2")):
            shared = SharedPresence(d, store, me)
            store.on_agent_presence(shared.sync, loop=loop)
        t0 = time.monotonic()
        da.set_presence("alice", Presence.AWAY)  # she steps away at the desktop served by worker 1
        await await_true(lambda: db.presence("alice") is Presence.AWAY, 2.0, "worker 2 to see alice away")
        away_lag = time.monotonic() - t0
        qb = CallQueue(db)
        waiting = asyncio.create_task(qb.wait_for_agent("call-9", timeout=10))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # nobody rings an away agent
        t0 = time.monotonic()
        da.set_presence("alice", Presence.AVAILABLE)  # back, on worker 1
        got = await asyncio.wait_for(waiting, 5)
        assert got is not None and got.id == "alice" and time.monotonic() - t0 < 2.0
        assert away_lag < 2.0
        assert a.agent_presence()["alice"] == ("available", "w1")
        qb.close()


async def await_true(predicate, timeout: float, what: str) -> None:
    import asyncio

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


async def test_a_phone_registered_with_one_worker_can_be_rung_by_all(url):
    import asyncio
    from types import SimpleNamespace

    from routing.shared_presence import SharedPresence

    loop = asyncio.get_running_loop()
    with Store(url) as a, Store(url) as b:
        await loop.run_in_executor(None, wait_until, lambda: a.listening and b.listening, 10, "listeners")
        shared = {}
        for store, me in ((a, "w1"), (b, "w2")):
            store.register_worker(me, heartbeat_s=0.5, stale_s=5)
            d = AgentDirectory([{"id": "bob", "password": "s3cret", "skills": ["tech"]}],
                               claims=SimpleNamespace(claim=store.claim_agent, release=store.release_agent))
            shared[me] = SharedPresence(d, store, me)
            store.on_agent_bindings(shared[me].sync_bindings, loop=loop)
        da, db = shared["w1"].directory, shared["w2"].directory
        assert db.contact_uri("bob") is None  # REGISTER-only: unreachable until his phone registers
        reg = SimpleNamespace(user="bob", contact="sip:bob@127.0.0.1:5099", expires=60)
        t0 = time.monotonic()
        shared["w1"].on_register(reg)  # the REGISTER reached worker 1
        assert da.contact_uri("bob") == "sip:bob@127.0.0.1:5099"
        await await_true(lambda: db.contact_uri("bob") == "sip:bob@127.0.0.1:5099", 2.0, "worker 2 to learn the binding")
        assert time.monotonic() - t0 < 2.0 and db.available("tech")[0].id == "bob"
        shared["w1"].on_register(SimpleNamespace(user="bob", contact="sip:bob@127.0.0.1:5099", expires=0))
        await await_true(lambda: db.contact_uri("bob") is None, 2.0, "worker 2 to drop the binding")
        assert a.agent_bindings() == {}
