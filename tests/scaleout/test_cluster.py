"""Calls through Kamailio's dispatcher to three `ivr serve` workers sharing one PostgreSQL:
round robin, BYE through the balancer, a policy change on one worker live on all, one agent
never rung by two workers at once, a worker killed mid-call, PostgreSQL restarted mid-call, and
an INVITE flood from one source held off at the front door."""

from __future__ import annotations

import asyncio
import time
import json
from pathlib import Path

import pytest

from telephony import EndpointConfig, SipEndpoint, TimingConfig

from .conftest import AGENT_PORT, Recorder, await_until, wait_until

pytestmark = pytest.mark.scaleout


def front(cluster) -> str:
    host, port = cluster.sip
    return f"sip:support@{host}:{port}"


def totals(cluster) -> list[int]:
    return [w.api("/healthz")["calls_total"] if w.alive else -1 for w in cluster.nodes]


def calls_in_store(cluster, limit=200) -> list[dict]:
    w = next(w for w in cluster.nodes if w.alive)
    return w.api(f"/api/calls?limit={limit}")["calls"]


async def place(ep: SipEndpoint, cluster, seconds: float):
    """A call through the front door that listens for `seconds` and hangs up."""
    call = await ep.invite(front(cluster), ring_timeout=15)
    rec = Recorder(call)
    await asyncio.sleep(seconds)
    await call.hangup()
    await asyncio.wait_for(rec.task, 5)
    return call, rec


@pytest.fixture
async def phone():
    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    await ep.start()
    yield ep
    await ep.stop()


async def test_calls_are_spread_over_the_workers_and_bye_goes_through_kamailio(cluster, phone):
    before = await asyncio.to_thread(totals, cluster)
    results = await asyncio.gather(*(place(phone, cluster, 2.5) for _ in range(3)))
    for call, rec in results:
        assert rec.loud_seconds() > 0.5  # each caller heard its worker's greeting
    after = await asyncio.to_thread(totals, cluster)
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1]  # round robin
    ids = {c.call_id for c, _ in results}

    def all_ended():
        rows = [r for r in calls_in_store(cluster) if r["sip_call_id"] in ids]
        return len(rows) == 3 and all(r["ended_at"] for r in rows) and rows

    rows = await await_until(all_ended, 10, "the three calls to be stored as ended")
    assert sorted(r["worker"] for r in rows) == ["w1", "w2", "w3"]
    assert {r["outcome"] for r in rows} == {"caller_hung_up"}  # our BYE reached each worker via Kamailio
    for w in cluster.nodes:
        stats = w.api("/healthz")["sip_stats"]
        assert stats["calls"] == 0


def test_a_policy_change_on_one_worker_is_live_on_all_within_2s(cluster):
    w1, w2, w3 = cluster.nodes
    doc = w1.api("/api/policy")
    doc["max_no_match"] = doc.get("max_no_match", 2) + 1
    t0 = time.monotonic()
    saved = w1.api("/api/policy", method="PUT", body=doc)
    for w in (w2, w3):
        wait_until(lambda w=w: any(f"policy version {saved['version']} is live" in line for line in w.log), 2.0,
                   f"{w.name} to take policy version {saved['version']}")
    lag = time.monotonic() - t0
    assert lag < 2.0
    assert w3.api("/api/policy")["version"] == saved["version"]


async def test_one_agent_is_never_rung_by_two_workers_at_once(cluster, phone):
    """Two callers on two workers press 0 at the same moment; alice is the only agent. Each
    worker must claim her in the database first: the second rings her only once the first
    call has let her go."""
    active, spans = [0], []
    rung: list[float] = []
    two_done = asyncio.Event()

    async def alice(call):
        start = time.monotonic()
        active[0] += 1
        assert active[0] == 1, "alice has two calls at once"
        await asyncio.sleep(1.5)
        await call.hangup()
        active[0] -= 1
        spans.append((start, time.monotonic()))
        if len(spans) == 2:
            two_done.set()

    agent = SipEndpoint(EndpointConfig("127.0.0.1", AGENT_PORT, timing=TimingConfig(answer_delay=0.5)), alice)
    orig = agent.answering.on_invite

    def count_invites(req, tx, source, key):
        rung.append(time.monotonic())
        return orig(req, tx, source, key)

    agent.answering.on_invite = count_invites
    await agent.start()
    try:
        before = await asyncio.to_thread(totals, cluster)
        calls = [await phone.invite(front(cluster), ring_timeout=15) for _ in range(2)]
        recs = [Recorder(c) for c in calls]
        after = await asyncio.to_thread(totals, cluster)
        assert sum(1 for a, b in zip(after, before) if a > b) == 2  # two different workers
        await asyncio.gather(*(r.spoke_then_silent() for r in recs))
        for c in calls:
            c.send_dtmf("0")
        await asyncio.wait_for(two_done.wait(), 40)
        for c in calls:
            await c.hangup()
        assert len(rung) == 2, rung  # one INVITE per call: the second waited, it did not ring in parallel
        (s1, e1), (s2, e2) = sorted(spans)
        assert e1 <= s2 and rung[1] >= e1 - 0.1, (spans, rung)
    finally:
        await agent.stop()


async def test_postgresql_restarted_during_calls_the_calls_go_on_and_nothing_is_lost(cluster, phone):
    calls = [await phone.invite(front(cluster), ring_timeout=15) for _ in range(2)]
    recs = [Recorder(c) for c in calls]
    await asyncio.gather(*(r.spoke_then_silent() for r in recs))
    await asyncio.to_thread(cluster.pg.stop, "fast")
    try:
        for c in calls:
            c.send_dtmf("9")  # the caller does something while the database is down
        await asyncio.sleep(1.5)
        assert not any(c.ended.is_set() for c in calls)  # the calls go on
    finally:
        await asyncio.to_thread(cluster.pg.start)
    await asyncio.sleep(1.0)
    for c in calls:
        await c.hangup()
    ids = {c.call_id for c in calls}

    def stored():
        rows = [r for r in calls_in_store(cluster) if r["sip_call_id"] in ids and r["ended_at"]]
        return len(rows) == 2 and rows

    rows = await await_until(stored, 20, "both calls to be written after the restart")
    assert {r["outcome"] for r in rows} == {"caller_hung_up"}
    for w in cluster.nodes:
        h = w.api("/healthz")["store"]
        assert h["write_errors"] == 0 and h["backlog"] == 0 and h["database_reachable"]
    assert any(w.api("/healthz")["store"]["write_retries"] > 0 for w in cluster.nodes)
    for r in rows:
        events = cluster.nodes[0].api(f"/api/calls/{r['id']}/events")["events"]
        assert [e["seq"] for e in events] == list(range(len(events)))  # nothing missing, in order


def test_an_invite_flood_from_one_source_is_held_off_at_the_front_door(cluster):
    """300 INVITEs as fast as one socket sends them from 127.0.0.2: Kamailio's pike answers 503
    itself once the source is over its rate, so few reach the workers, while a caller on another
    address still gets through."""
    import socket
    import uuid

    host, port = cluster.sip
    body = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
            b"m=audio 4000 RTP/AVP 18\r\n")  # G.729 only: a worker that gets one answers 488 at once
    statuses: dict[str, int] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.2", 0))
        lport = s.getsockname()[1]
        for i in range(300):
            cid = uuid.uuid4().hex
            msg = (f"INVITE sip:support@{host}:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{lport};branch=z9hG4bK{cid[:16]};rport\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:flood@127.0.0.2>;tag={i}\r\nTo: <sip:support@{host}>\r\n"
                   f"Call-ID: {cid}\r\nCSeq: 1 INVITE\r\nContact: <sip:flood@127.0.0.2:{lport}>\r\n"
                   f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
            s.sendto(msg, (host, port))
        s.settimeout(2.0)
        try:
            while True:
                data, _ = s.recvfrom(65536)
                head = data.split(b"\r\n", 1)[0].split(b" ")
                code = int(head[1])
                cid = next(l.split(b":", 1)[1].strip().decode() for l in data.split(b"\r\n") if l.lower().startswith(b"call-id"))
                if code >= 200:
                    statuses.setdefault(cid, code)
        except socket.timeout:
            pass
    counts = {c: list(statuses.values()).count(c) for c in set(statuses.values())}
    assert counts.get(503, 0) >= 50, counts  # refused at the front door (the rest: 488s, or no answer)
    assert counts.get(488, 0) <= 120, counts  # pike let at most ~2 sampling windows through to workers
    # Someone else still gets through.
    async def one_call():
        ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
        await ep.start()
        try:
            call, rec = await place(ep, cluster, 2.5)
            return rec.loud_seconds()
        finally:
            await ep.stop()

    assert asyncio.run(one_call()) > 0.5  # answered, and heard its worker's greeting


def test_secrets_reach_no_log_and_no_command_line(cluster):
    """The workers get the database password (in IVR_DB_URL) and IVR_SECRET from the environment."""
    secret = cluster.nodes[0].env["IVR_SECRET"]
    for w in cluster.nodes:
        text = "".join(w.log) + (w.var / "worker.log").read_text()
        assert cluster.db_password not in text and secret not in text
        cmdline = Path(f"/proc/{w.proc.pid}/cmdline").read_bytes().decode()
        assert cluster.db_password not in cmdline and secret not in cmdline
        assert w.env["IVR_ADMIN_TOKEN"] not in text and w.env["IVR_ADMIN_TOKEN"] not in cmdline
        assert cluster.db_password not in json.dumps(w.api("/healthz"))
    assert cluster.db_password not in cluster.kamailio.log_tail(10**6)


async def test_a_worker_killed_mid_call_new_calls_go_to_the_others_and_its_record_is_closed(cluster, phone):
    """Runs last: the cluster goes on with two workers (a restarted worker closing its own
    calls is tested in tests/routing/test_store_cluster.py)."""
    call = await phone.invite(front(cluster), ring_timeout=15)
    rec = Recorder(call)
    await rec.spoke_then_silent()
    call.send_dtmf("9")  # something the caller did, stored before the kill

    def stored_dtmf():
        row = next((r for r in calls_in_store(cluster) if r["sip_call_id"] == call.call_id), None)
        events = row and cluster.nodes[0].api(f"/api/calls/{row['id']}/events")["events"]
        return events and any(e["event"] == "dtmf" for e in events)

    await await_until(stored_dtmf, 10, "the caller's key press to be stored")
    holder = next(w for w in cluster.nodes if w.api("/healthz")["calls_active"] == 1)
    holder.kill()
    await asyncio.wait_for(call.hangup(), 10)  # the BYE goes nowhere; the caller's side ends anyway
    others = [w for w in cluster.nodes if w is not holder]
    before = [w.api("/healthz")["calls_total"] for w in others]
    t0 = time.monotonic()
    results = await asyncio.gather(*(place(phone, cluster, 1.0) for _ in range(4)), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    after = [w.api("/healthz")["calls_total"] for w in others]
    assert sum(after) - sum(before) == 4
    assert time.monotonic() - t0 < 20
    # A live worker finds the dead one's open call (stale heartbeat) and closes it.
    row = await await_until(lambda: next((r for r in calls_in_store(cluster)
                                          if r["sip_call_id"] == call.call_id and r["ended_at"]), None),
                            15, "the killed worker's call to be closed")
    assert row["outcome"] == "interrupted" and row["ended_abruptly"] and row["worker"] == holder.name
    events = others[0].api(f"/api/calls/{row['id']}/events")["events"]
    kinds = [e["event"] for e in events]
    assert "dtmf" in kinds and kinds[-1] == "interrupted"  # what happened before the kill is kept
    assert events[-1]["reason"] == "worker_died"


