"""Agent assist on the screen-pop feed (`routing.assist`): the pop carries what the bot looked up
and is followed by articles for the caller's last words; every live caller line brings its own,
searched off the event loop; the bot's lines bring none; card numbers never reach the search."""

from __future__ import annotations

import asyncio

from nlu.backend import DEMO_KB, KbEntry
from nlu.knowledge import KnowledgeIndex
from routing.assist import AssistHub, bot_facts, last_caller_text

SUMMARY = {
    "intent": "order_status", "verified": True,
    "customer": {"account_id": "12345678", "name": "Alice Johnson", "tier": "gold"},
    "steps": [{"action": "order_lookup", "detail": "order 45678", "result": "found: out_for_delivery"},
              {"action": "verify", "detail": "pin", "result": "passed"}],
    "transcript": [{"speaker": "bot", "text": "How can I help?"},
                   {"speaker": "caller", "text": "when are you open on saturday"}],
}


def test_bot_facts_from_the_summary():
    assert bot_facts(SUMMARY) == {"order": "45678: out for delivery", "account": "12345678, Alice Johnson, gold",
                                  "verified": True, "verify": "pin: passed"}
    lost = bot_facts({"steps": [{"action": "order_lookup", "detail": "order 999", "result": "not_found"},
                                {"action": "account_lookup", "detail": "555", "result": "not_found"}]})
    assert lost == {"order": "999: not found", "account": "555: not found", "verified": False, "verify": None}
    assert bot_facts({}) == {"order": None, "account": None, "verified": False, "verify": None}
    assert last_caller_text(SUMMARY) == "when are you open on saturday" and last_caller_text({}) == ""
    silent_after = {"transcript": [*SUMMARY["transcript"], {"speaker": "caller", "text": "[no input]"}]}
    assert last_caller_text(silent_after) == "when are you open on saturday"  # a silence is not words


async def _drain(conn, hub):
    await hub.settled()
    out = []
    while not conn.queue.empty():
        out.append(conn.queue.get_nowait())
    return out


async def test_the_pop_and_caller_lines_bring_articles():
    hub = AssistHub(index=KnowledgeIndex(lambda: [KbEntry(k, q, a) for k, q, a in DEMO_KB]))
    conn = hub.connect("alice")
    hub.pop("alice", {"call_id": "c1", "summary": SUMMARY})
    pop, sugg = await _drain(conn, hub)
    assert pop["type"] == "pop" and pop["facts"]["order"] == "45678: out for delivery" and pop["facts"]["verified"]
    assert sugg["type"] == "suggestions" and sugg["call_id"] == "c1" and sugg["for"] == "when are you open on saturday"
    assert sugg["articles"][0]["key"] == "opening_hours"
    hub.transcript("alice", "c1", "agent", "let me check that")
    hub.transcript("alice", "c1", "caller", "and can I return the headphones for a refund")
    lines = await _drain(conn, hub)
    assert [m["type"] for m in lines] == ["transcript", "transcript", "suggestions"]
    assert lines[-1]["articles"][0]["key"] == "returns_policy"


async def test_card_numbers_are_redacted_before_the_search():
    seen = []

    class Spy:
        def search(self, text, k):
            seen.append(text)
            return []

    hub = AssistHub(index=Spy())
    conn = hub.connect("alice")
    hub.transcript("alice", "c1", "caller", "my card is 4111 1111 1111 1111")
    msgs = await _drain(conn, hub)
    assert seen and "4111 1111 1111 1111" not in seen[0] and "4111 1111 1111 1111" not in str(msgs)
    assert msgs[-1] == {"type": "suggestions", "call_id": "c1", "for": seen[0], "articles": []}


async def test_a_failing_search_never_loses_the_pop():
    class Broken:
        def search(self, text, k):
            raise RuntimeError("boom")

    hub = AssistHub(index=Broken())
    conn = hub.connect("alice")
    hub.pop("alice", {"call_id": "c1", "summary": SUMMARY})
    msgs = await _drain(conn, hub)
    assert [m["type"] for m in msgs] == ["pop", "suggestions"] and msgs[1]["articles"] == []


def test_without_an_index_it_is_a_plain_hub():
    hub = AssistHub()
    conn = hub.connect("alice")
    hub.transcript("alice", "c1", "caller", "hello")
    assert conn.queue.qsize() == 1 and hub.suggested == 0
    asyncio.run(hub.settled())


async def test_the_transfer_s_flat_pop_gets_its_facts_too():
    hub = AssistHub(index=KnowledgeIndex(lambda: [KbEntry(k, q, a) for k, q, a in DEMO_KB]))
    conn = hub.connect("alice")
    hub.pop("alice", {"type": "screen_pop", "call_id": "c2", "reason": "dtmf", "ringing_since": 1.0, **SUMMARY})
    pop, sugg = await _drain(conn, hub)
    assert pop["facts"]["account"] == "12345678, Alice Johnson, gold" and pop["summary"]["intent"] == "order_status"
    assert pop["reason"] == "dtmf" and "reason" not in pop["summary"] and sugg["articles"][0]["key"] == "opening_hours"
