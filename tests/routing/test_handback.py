"""Hand back to the bot (`routing.handback`) and the agent's name at the bridge: the pure parts,
the desk's rules, and a warm transfer over real SIP/RTP on loopback (three of the project's own
user agents) whose agent passes the caller back; tones stand in for the spoken prompts, so each
prompt can be told apart in what the caller's phone heard."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import numpy as np

from calls.events import SurveyEvent, TransferEvent
from routing.handback import HANDBACK_PROMPT, HandbackDesk, bridge_intro, first_name
from routing.survey import SURVEY_PROMPT, run_survey
from routing.transfer import State, TransferConfig, WarmTransfer
from telephony import EndpointConfig, SipEndpoint

from tests.routing.test_transfer import SUMMARY, Desk, Pool, dominant_hz, record, tone


def test_first_name_and_the_bridge_line():
    assert first_name("Alice Smith") == "Alice" and first_name("  bob  ") == "Bob"
    assert first_name("") is None and first_name(None) is None and first_name("42") is None
    assert bridge_intro("Alice Smith") == "You're now speaking with Alice."
    assert bridge_intro(None) is None


async def test_the_desk_takes_one_hand_back_for_the_bridged_call_only():
    desk = HandbackDesk()
    asked = desk.open("alice", "call-1")
    assert desk.request("alice", "call-2") == "no call 'call-2' bridged to alice now"
    assert desk.request("bob", "call-1") == "no call 'call-1' bridged to bob now"
    assert desk.request("alice", "call-1", flow="sales").startswith("flow: must be one of survey")
    assert not asked.is_set()
    errors = []
    t = threading.Thread(target=lambda: errors.append(desk.request("alice", "call-1")))  # the web's thread
    t.start()
    t.join()
    await asyncio.wait_for(asked.wait(), 2)
    assert errors == [None]
    assert desk.request("alice", "call-1") == "call 'call-1' is already being handed back"
    handed = desk.close("alice", "call-1")
    assert (handed.agent_id, handed.call_id, handed.flow) == ("alice", "call-1", "survey")
    assert desk.call_of("alice") is None and desk.request("alice", "call-1").startswith("no call")


@dataclass
class NamedAgent:
    id: str
    contact: str
    name: str


TONES = {"intro": 600, "handback": 700, "survey": 800, "thanks": 900, "whisper": 1500}


def _which(text: str) -> str:
    if text.startswith("You're now speaking with"):
        return "intro"
    return {HANDBACK_PROMPT: "handback", SURVEY_PROMPT: "survey"}.get(text, "thanks" if "Thank" in text else "whisper")


async def test_agent_hands_the_caller_back_the_bot_runs_the_survey_and_ends_the_call():
    service_calls: asyncio.Queue = asyncio.Queue()
    caller_heard, agent_heard, events, spoken, scores = [], [], [], [], []
    agent_ended = asyncio.Event()

    async def agent_phone(call):
        rec = asyncio.create_task(record(call, agent_heard))
        await call.ended.wait()  # the agent never hangs up: the hand-back takes their leg down
        agent_ended.set()
        await rec

    async def service(call):
        await service_calls.put(call)
        await call.ended.wait()

    agent_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), agent_phone)
    svc_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), service)
    caller_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    for ep in (agent_ep, svc_ep, caller_ep):
        await ep.start()
    try:
        phone = await caller_ep.invite(f"sip:support@127.0.0.1:{svc_ep.port}", ring_timeout=5)
        caller_rec = asyncio.create_task(record(phone, caller_heard))
        leg = await asyncio.wait_for(service_calls.get(), 5)
        handbacks = HandbackDesk()

        async def speak(text):
            spoken.append(text)
            return tone(TONES[_which(text)], 0.8)

        async def survey(caller_leg):
            await run_survey(caller_leg, speak, events.append, scores.append)

        pool = Pool([NamedAgent("alice", f"sip:alice@127.0.0.1:{agent_ep.port}", "Alice Smith")])
        wt = WarmTransfer(leg, "call-1", SUMMARY, "explicit_request", invite=svc_ep.invite, agents=pool,
                          desktop=Desk(), speak=speak, on_event=events.append, config=TransferConfig(ring_timeout_s=3),
                          survey=survey, survey_on_agent_bye=False, handbacks=handbacks)
        task = asyncio.create_task(wt.run())
        for _ in range(400):  # until the transfer is bridged (bounded: 20 s)
            if any(isinstance(e, TransferEvent) and e.state == "bridged" for e in events):
                break
            await asyncio.sleep(0.05)
        assert handbacks.call_of("alice") == "call-1"
        assert handbacks.request("alice", "call-1") is None  # the desktop's button
        await asyncio.wait_for(agent_ended.wait(), 5)  # the agent's leg leaves at once
        for _ in range(400):  # until the caller's phone hears the survey's question (a key cuts it short)
            if len(caller_heard) > 10 and abs(dominant_hz(np.concatenate(caller_heard[-10:])) - TONES["survey"]) < 25:
                break
            await asyncio.sleep(0.05)
        phone.send_dtmf("4")
        result = await asyncio.wait_for(task, 20)
        await asyncio.wait_for(phone.ended.wait(), 5)  # the bot ends the call
        await asyncio.wait_for(caller_rec, 5)
    finally:
        for ep in (caller_ep, svc_ep, agent_ep):
            await ep.stop()
    assert result.state is State.DONE
    states = [e.state for e in events if isinstance(e, TransferEvent)]
    assert states[-3:] == ["bridged", "handed_back", "done"]
    done = [e for e in events if isinstance(e, TransferEvent) and e.state == "done"][0]
    assert done.ended == "handed_back" and done.handle_s > 0
    bridged = next(e for e in events if isinstance(e, TransferEvent) and e.state == "bridged")
    assert bridged.intro == "You're now speaking with Alice."  # the call's log says what the caller was told
    assert scores == [4] and [e.score for e in events if isinstance(e, SurveyEvent)] == [4]
    assert spoken.index("You're now speaking with Alice.") < spoken.index(HANDBACK_PROMPT) < spoken.index(SURVEY_PROMPT)
    # The caller heard, in this order: the agent's name, then why the bot is back, then the survey.
    caller = np.concatenate(caller_heard)
    heard = []
    for i in range(0, len(caller) - 1600, 800):
        piece = caller[i : i + 1600]
        if np.sqrt(np.mean(piece.astype(float) ** 2)) > 1000:
            hz = dominant_hz(piece)
            name = next((k for k, v in TONES.items() if abs(hz - v) < 25), None)
            if name and (not heard or heard[-1] != name):
                heard.append(name)
    assert [h for h in heard if h in ("intro", "handback", "survey", "thanks")] == ["intro", "handback", "survey", "thanks"]
