"""Agents: config parsing, the presence state machine, longest-idle selection by skill, registration."""

import pytest

from routing.agents import (
    Agent, AgentConfigError, AgentDirectory, InvalidTransition, Presence, TRANSITIONS, load_agents, parse_agent_spec,
    REALM, ha1_pair, pick_longest_idle,
)


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(*specs, clock=None):
    clock = clock or Clock()
    return AgentDirectory(specs, clock=clock, wall=lambda: 1_700_000_000.0 + clock.t), clock


# ---- config -------------------------------------------------------------------------------------------
def test_plain_sip_uri_spec():
    a = parse_agent_spec("sip:alice@127.0.0.1:5090")
    assert a == Agent("alice", "alice", "sip:alice@127.0.0.1:5090", frozenset())


def test_full_spec_with_skills_name_password_and_uri_params():
    a = parse_agent_spec("alice=sip:alice@127.0.0.1:5090;transport=tcp;skills=billing, Orders;name=Alice Smith;password=s3cret")
    assert a.id == "alice" and a.name == "Alice Smith"
    assert a.sip_uri == "sip:alice@127.0.0.1:5090;transport=tcp"
    assert a.skills == frozenset({"billing", "orders"})
    assert a.ha1 == ha1_pair("alice", REALM, "s3cret") and "s3cret" not in repr(a) and "ha1" not in a.public()
    assert not hasattr(a, "password")  # never kept plain


def test_register_only_agent_spec():
    a = parse_agent_spec("carol=;password=pw;skills=fraud")
    assert a.sip_uri is None and a.ha1["SHA-256"] == ha1_pair("carol", REALM, "pw")["SHA-256"] and a.skills == {"fraud"}
    assert parse_agent_spec("dave=;skills=fraud").ha1 is None  # credentials from the store (`ivr users sip-password`)


@pytest.mark.parametrize("spec", ["", "sip:127.0.0.1:5090", "bad id=sip:x@h", "alice=http://x",
                                  "alice=sip:a@h;skills=bil ling!"])
def test_bad_specs_are_refused(spec):
    with pytest.raises(AgentConfigError):
        parse_agent_spec(spec)


def test_load_from_dicts_and_strings_refuses_duplicates_and_unknown_fields():
    agents = load_agents([{"id": "a", "sip_uri": "sip:a@127.0.0.1:5091", "skills": ["billing"]}, "sip:b@127.0.0.1:5092"])
    assert [x.id for x in agents] == ["a", "b"] and agents[0].skills == {"billing"}
    with pytest.raises(AgentConfigError, match="duplicate"):
        load_agents(["sip:a@127.0.0.1:1", "a=sip:other@127.0.0.1:2"])
    with pytest.raises(AgentConfigError, match=r"agents\[0\]\.colour"):
        load_agents([{"id": "a", "sip_uri": "sip:a@h", "colour": "red"}])


# ---- presence -------------------------------------------------------------------------------------------
def test_full_cycle_with_timestamps():
    d, clock = make("sip:alice@127.0.0.1:5090")
    st = d.status("alice")
    assert st.presence is Presence.AVAILABLE and st.since == 100.0
    path = [(Presence.RINGING, 101), (Presence.ON_CALL, 105), (Presence.WRAP_UP, 300), (Presence.AVAILABLE, 330),
            (Presence.AWAY, 400), (Presence.AVAILABLE, 500)]
    for state, t in path:
        clock.t = t
        st = d.set_presence("alice", state, call_ref="c1" if state is Presence.RINGING else None)
        assert st.presence is state and st.since == t and st.since_wall == 1_700_000_000.0 + t
    assert st.calls_handled == 1 and st.call_ref is None


@pytest.mark.parametrize("old,new", [(o, n) for o in Presence for n in Presence if n not in TRANSITIONS[o]])
def test_invalid_transitions_raise(old, new):
    d, _ = make("sip:alice@127.0.0.1:5090")
    route = {Presence.AVAILABLE: [], Presence.RINGING: [Presence.RINGING],
             Presence.ON_CALL: [Presence.RINGING, Presence.ON_CALL],
             Presence.WRAP_UP: [Presence.RINGING, Presence.ON_CALL, Presence.WRAP_UP], Presence.AWAY: [Presence.AWAY]}
    for step in route[old]:
        d.set_presence("alice", step)
    assert d.presence("alice") is old
    with pytest.raises(InvalidTransition):
        d.set_presence("alice", new)
    assert d.presence("alice") is old


def test_listeners_see_every_change():
    d, _ = make("sip:alice@127.0.0.1:5090")
    seen = []
    stop = d.subscribe(lambda agent, old, new, st: seen.append((agent.id, old.value, new.value)))
    d.set_presence("alice", "away")
    stop()
    d.set_presence("alice", "available")
    assert seen == [("alice", "available", "away")]


# ---- selection -------------------------------------------------------------------------------------------
def test_longest_idle_with_skill():
    clock = Clock(0)
    d, _ = make("a=sip:a@127.0.0.1:1;skills=billing", "b=sip:b@127.0.0.1:2;skills=billing,orders",
                "c=sip:c@127.0.0.1:3;skills=orders", clock=clock)
    # everyone became available at t=0; make idle times differ: a busy until 50, b until 20, c until 30
    for agent_id, free_at in (("a", 50), ("b", 20), ("c", 30)):
        d.set_presence(agent_id, "away")
        clock.t = free_at
        d.set_presence(agent_id, "available")
    clock.t = 60
    assert d.longest_idle("billing").id == "b"
    assert d.longest_idle("orders").id == "b"
    assert d.longest_idle(None).id == "b"
    assert d.longest_idle("fraud") is None
    assert d.idle_seconds("b") == 40 and [x.id for x in d.available("billing")] == ["b", "a"]
    assert d.reserve_longest_idle("orders", "call-1").id == "b"
    assert d.status("b").presence is Presence.RINGING and d.status("b").call_ref == "call-1"
    assert d.longest_idle("orders").id == "c"
    assert d.longest_idle("billing").id == "a"
    assert not d.reserve("b", "call-2")  # already ringing


def test_ties_go_to_the_first_listed():
    d, _ = make("x=sip:x@127.0.0.1:1", "y=sip:y@127.0.0.1:2")
    assert d.longest_idle().id == "x"
    assert pick_longest_idle([], None) is None


# ---- registration ------------------------------------------------------------------------------------------
class Reg:
    def __init__(self, user, contact, expires):
        self.user, self.contact, self.expires = user, contact, expires


def test_registration_sets_contact_until_expiry_then_falls_back():
    d, clock = make("alice=sip:alice@127.0.0.1:5090;password=pw", "carol=;password=pc;skills=fraud")
    assert d.credentials_for("alice") == ha1_pair("alice", REALM, "pw") and d.credentials_for("nobody") is None
    assert d.contact_uri("carol") is None and d.longest_idle("fraud") is None  # not reachable until she registers
    d.on_register(Reg("carol", "sip:carol@127.0.0.1:6000", 120))
    assert d.contact_uri("carol") == "sip:carol@127.0.0.1:6000" and d.longest_idle("fraud").id == "carol"
    d.on_register(Reg("alice", "sip:alice@127.0.0.1:7000", 60))
    assert d.contact_uri("alice") == "sip:alice@127.0.0.1:7000"
    clock.t += 61
    assert d.contact_uri("alice") == "sip:alice@127.0.0.1:5090"  # expired: back to the configured URI
    assert d.contact_uri("carol") == "sip:carol@127.0.0.1:6000"
    clock.t += 60
    assert d.contact_uri("carol") is None and not d.reserve("carol", "c")
    d.on_register(Reg("carol", "sip:carol@127.0.0.1:6000", 120))
    d.on_register(Reg("carol", "sip:carol@127.0.0.1:6000", 0))  # unregister
    assert d.contact_uri("carol") is None
    snap = {s["id"]: s for s in d.snapshot()}
    assert snap["alice"]["state"] == "available" and "password" not in snap["alice"]
