"""The callback queue in the store: due in order, one claim wins across workers, retries recorded,
a cancel during the call is not undone, a restart puts back what was in progress."""

import threading
from datetime import timedelta

from routing.callbacks import Step
from store import Store
from store.values import utcnow


def _store(path, worker):
    s = Store(f"sqlite:///{path}/cb.db")
    s.worker_id = worker
    return s


def test_due_claim_finish_and_restart(tmp_path):
    a, b = _store(tmp_path, "w1"), _store(tmp_path, "w2")
    try:
        first = a.add_callback(None, "+15550001", skill="billing", summary={"paragraph": "card 4111 1111 1111 1111"})
        second = a.add_callback(None, "sip:bob@127.0.0.1:5099")
        a.flush_sync()
        due = a.callbacks.due(utcnow())
        assert [c.id for c in due] == [first, second] and due[0].skill == "billing"
        assert "4111 1111 1111 1111" not in str(due[0].summary)  # redacted before it was stored
        # two workers race for it: exactly one wins
        wins = []
        barrier = threading.Barrier(2)

        def race(s):
            barrier.wait()
            wins.append(s.callbacks.claim(first))

        threads = [threading.Thread(target=race, args=(s,)) for s in (a, b)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sorted(wins) == [False, True]
        holder, other = (a, b) if a.callbacks.get(first)["claimed_by"] == "w1" else (b, a)
        assert [c.id for c in holder.callbacks.due(utcnow())] == [second]  # in progress is not due
        assert not other.callbacks.finish(first, Step("done", None, 1, "answered"))  # not theirs
        retry_at = utcnow() + timedelta(seconds=60)
        assert holder.callbacks.finish(first, Step("pending", retry_at, 1, "no_answer"), "alice")
        row = holder.callbacks.get(first)
        assert (row["status"], row["attempts"], row["last_result"], row["agent"]) == ("pending", 1, "no_answer", "alice")
        assert first not in [c.id for c in a.callbacks.due(utcnow())]  # backing off
        assert a.callbacks.call_now(first) and first in [c.id for c in a.callbacks.due(utcnow())]
        # a worker that restarts puts back what it had in progress
        assert a.callbacks.claim(second)
        assert a.callbacks.requeue(mine=True, older_than=None) == 1
        assert a.callbacks.get(second)["status"] == "pending"
    finally:
        a.close()
        b.close()


def test_cancel_wins_over_the_call_in_progress_and_failed_can_be_called_again(tmp_path):
    s = _store(tmp_path, "w1")
    try:
        cid = s.add_callback(None, "+15550002")
        s.flush_sync()
        assert s.callbacks.claim(cid)
        assert s.callbacks.cancel(cid)
        assert not s.callbacks.finish(cid, Step("done", None, 1, "answered"))
        assert s.callbacks.get(cid)["status"] == "cancelled" and not s.callbacks.call_now(cid)
        other = s.add_callback(None, "+15550003")
        s.flush_sync()
        assert s.callbacks.claim(other)
        assert s.callbacks.finish(other, Step("failed", None, 3, "no_answer"))
        assert s.callbacks.call_now(other)
        row = s.callbacks.get(other)
        assert (row["status"], row["attempts"]) == ("pending", 0)
        assert s.callbacks.counts() == {"cancelled": 1, "pending": 1}
    finally:
        s.close()


def test_a_dead_workers_callbacks_go_back_and_a_live_ones_stay(tmp_path):
    live, dead = _store(tmp_path, "w1"), _store(tmp_path, "w2")
    try:
        live.register_worker("w1", heartbeat_s=0.2, stale_s=1.0)
        mine, theirs = live.add_callback(None, "+15550004"), live.add_callback(None, "+15550005")
        live.flush_sync()
        assert live.callbacks.claim(mine) and dead.callbacks.claim(theirs)  # w2 never heartbeats: dead
        assert live.callbacks.requeue(mine=False, older_than=None, dead_after_s=1.0) == 1
        assert live.callbacks.get(theirs)["status"] == "pending"
        assert live.callbacks.get(mine)["status"] == "in_progress"  # w1 is alive: its call goes on
        # a worker that never registered (no heartbeats at all) does not judge the others
        assert dead.callbacks.claim(theirs)
        assert dead.callbacks.requeue(mine=False, older_than=None, dead_after_s=1.0) == 0
    finally:
        live.close()
        dead.close()
