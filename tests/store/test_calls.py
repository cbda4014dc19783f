"""Calls through the Store: what is written reads back (turns, replies, decisions, summaries,
transfers, surveys, callbacks), bad fields keep the raw event, validation fails in the caller,
and card numbers never reach the database in clear."""

from __future__ import annotations

import asyncio
import glob
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from routing.policy import Policy
from store import schema
from tests.store.support import CARD, CARD_GROUPED, CARD_SPOKEN, all_rows_text, turn_event

# --------------------------------------------------------------------------- round trips


async def test_round_trip(store):
    t0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    cid = store.call_started("a84b4c76e66710@pbx", "+15551234567", t0)
    store.record_event(cid, {"event": "bot", "start": 0.0, "text": "Hello, how can I help?", "interrupted": False,
                             "prompt": "greeting"})
    store.record_event(cid, turn_event(0, "where is my order", score=0.3))
    store.record_event(cid, {"event": "dtmf", "digit": "0"})
    store.record_event(cid, {"event": "no_input", "at": 9.5})
    store.record_event(cid, {**turn_event(1, "this is useless, get me a person", "speak_to_human", 0.7),
                             "barge_in": True}, at=t0 + timedelta(seconds=12))
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


# --------------------------------------------------------------------------- ends, abrupt and otherwise


async def test_call_without_end_is_listed_with_null_ended_at(store):
    cid = store.call_started("x@pbx", "+15550000001")
    store.record_event(cid, turn_event(0, "hello"))
    store.call_ended(store.call_started("y@pbx", None), "caller_hung_up", abruptly=True)
    await store.flush()
    by_sip = {c["sip_call_id"]: c for c in store.list_calls()}
    assert by_sip["x@pbx"]["ended_at"] is None and by_sip["x@pbx"]["outcome"] is None
    assert by_sip["y@pbx"]["ended_at"] is not None and by_sip["y@pbx"]["ended_abruptly"] is True
    assert by_sip["y@pbx"]["outcome"] == "caller_hung_up"

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
    store.record_event(cid, turn_event(0, f"my card number is {CARD_GROUPED}"))
    store.record_event(cid, {**turn_event(1, f"it's {CARD_SPOKEN}"), "entities": {"card": CARD, "pan_int": int(CARD),
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
    dump = all_rows_text(store.engine)
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
            store.record_event(cid, turn_event(k, f"call {i} turn {k}"))
            store.record_event(cid, {"event": "bot", "start": k * 3.0, "text": f"reply {i}.{k}", "interrupted": False})
            await asyncio.sleep(0)  # interleave with the other calls
        store.call_ended(cid, "bot_resolved")
        return cid

    def from_a_thread(j: int, out: list) -> None:  # writers on other threads too
        for k in range(10):
            cid = store.call_started(f"thr-{j}-{k}@pbx", None)
            store.record_event(cid, turn_event(0, f"thread {j} call {k}"))
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
