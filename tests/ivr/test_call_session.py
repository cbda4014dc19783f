"""A call's session: its events reach the store, the metrics and the log; its outcome is recorded once."""

import asyncio
import logging
from types import SimpleNamespace

import pytest

import voice.live_call
from ivr.call_session import CallSession, caller_number
from ivr.contact_center import ContactCenter
from routing.agents import AgentDirectory, load_agents
from calls.events import event_from_json as ev_
from routing.policy import Policy


class FakeStore:
    def __init__(self):
        self.events, self.ended, self.attempts, self.finished, self.scores = [], [], [], [], []
        self.calls = {"c1": {"id": "c1", "agent": "alice"}}
        self.accounts = SimpleNamespace(add_disposition=lambda *a, **k: self.scores.append(("disposition", a, k)))

    def current_policy(self):
        return 3, Policy(version=3)

    def on_policy_change(self, cb):
        self.policy_cb = cb

    def call_started(self, sip_call_id, caller):
        return "c1"

    def record_event(self, call_id, ev):
        self.events.append((call_id, ev))

    def call_ended(self, call_id, outcome, abruptly=False):
        self.ended.append((call_id, outcome, abruptly))

    def transfer_attempt_started(self, call_id, agent):
        self.attempts.append((call_id, agent))
        return f"a{len(self.attempts)}"

    def transfer_attempt_finished(self, attempt, result):
        self.finished.append((attempt, result))

    def get_call(self, call_id):
        return self.calls.get(call_id)


class FakeMetrics:
    def __init__(self):
        self.seen = []
        self.policy_version = SimpleNamespace(set=lambda v: self.seen.append(("policy", v)))

    def call_started(self, call_id):
        self.seen.append(("started", call_id))

    def call_ended(self, call_id, outcome):
        self.seen.append(("ended", call_id, outcome))

    def event(self, call_id, ev):
        self.seen.append(("event", call_id, ev.type))


class Bot:
    def __init__(self, caller):
        self.caller = caller


@pytest.fixture
def cc(monkeypatch):
    engine = SimpleNamespace(responder=lambda bot, caller_id=None: Bot(caller_id), policy=None)
    center = ContactCenter(engine, FakeStore(), AgentDirectory(load_agents(["alice=sip:alice@127.0.0.1"])),
                           skills={"refund": "billing"})
    center.metrics = FakeMetrics()
    return center


def _call():
    return SimpleNamespace(call_id="sip-1", remote_uri="sip:+15551234567@pbx", ended=asyncio.Event())


async def test_events_are_recorded_and_the_outcome_once(cc, monkeypatch, caplog):
    async def run_call(call, engine, responder, on_event, config=None, on_transfer=None):
        assert responder.caller == "+15551234567" and cc.active == {"c1"}
        on_event(ev_({"event": "turn", "text": "my card 4111 1111 1111 1111"}))
        on_event(ev_({"event": "decision", "action": "transfer", "reason": "dtmf", "policy_version": 1}))
        on_event(ev_({"event": "end", "outcome": "bot_resolved"}))  # recorded once, by the session, below
        logging.getLogger("ivr").info("inside the call")
        return "bot_resolved"

    monkeypatch.setattr(voice.live_call, "run_call", run_call)
    caplog.set_level(logging.INFO, logger="ivr")
    await cc.handle_call(_call())
    store = cc.store
    assert [ev.type for _, ev in store.events] == ["turn", "decision"]
    assert store.events[1][1].policy_version == 3  # the version live now, not the bot's
    assert store.ended == [("c1", "bot_resolved", False)]
    assert cc.metrics.seen[-1] == ("ended", "c1", "bot_resolved")
    assert cc.active == set() and cc.total == 1 and cc.draining() == 0
    assert "4111 1111 1111 1111" not in caplog.text  # the log masks card numbers


@pytest.mark.parametrize("returned, recorded", [("transferred", "transferred"), ("hung_up", "caller_hung_up"),
                                                (None, "caller_hung_up")])
async def test_an_unknown_outcome_is_the_caller_hanging_up(cc, monkeypatch, returned, recorded):
    async def run_call(*a, **k):
        return returned

    monkeypatch.setattr(voice.live_call, "run_call", run_call)
    await cc.handle_call(_call())
    assert cc.store.ended == [("c1", recorded, False)]


async def test_a_failed_call_is_closed_abruptly(cc, monkeypatch):
    async def run_call(*a, **k):
        raise RuntimeError("pipeline broke")

    monkeypatch.setattr(voice.live_call, "run_call", run_call)
    with pytest.raises(RuntimeError):
        await cc.handle_call(_call())
    assert cc.store.ended == [("c1", None, True)] and cc.metrics.seen[-1] == ("ended", "c1", "failed")
    assert cc.active == set()


def test_transfer_attempts_are_recorded_per_agent(cc):
    session = CallSession(cc, _call())
    session.call_id = "c1"
    session.on_transfer_event(ev_({"event": "transfer", "state": "ringing", "agent": "alice"}))
    session.on_transfer_event(ev_({"event": "transfer_attempt", "agent": "alice", "result": "unavailable"}))
    session.on_transfer_event(ev_({"event": "transfer_attempt", "agent": "bob", "result": "answered"}))  # never rung
    assert cc.store.attempts == [("c1", "alice")] and cc.store.finished == [("a1", "busy")]
    assert len(cc.store.events) == 3


def test_a_new_policy_reaches_the_next_decision(cc):
    session = CallSession(cc, _call())
    session.call_id = "c1"
    cc.store.policy_cb(4, Policy(version=4))
    session.on_event(ev_({"event": "decision", "action": "transfer"}))
    assert cc.store.events[-1][1].policy_version == 4 and cc.engine.policy == Policy(version=4)


def test_dispositions_are_checked_then_stored(cc):
    assert cc.disposition("bob", {"call_id": "c1", "escalation_right": True}) == (
        "only the agent who took the call can file its disposition")
    assert cc.disposition("alice", {"call_id": "c1", "escalation_right": True, "reason_tag": "billing"}) is None
    assert cc.store.scores[-1][1] == ("c1", "alice")


def test_caller_number():
    assert caller_number("sip:+15551234567@host") == "+15551234567"
    assert caller_number("sip:host") is None
