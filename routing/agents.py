"""Agents: who they are (config), where to ring them (static URI or SIP REGISTER), and their presence.

An `Agent` is configuration: id, name, SIP URI, skills, and optionally its REGISTER credentials
as digest HA1s. Passwords belong in the store (`ivr users sip-password`, hashed there); a
`password=` in the configuration still works, hashed at load with a warning (issue 19).
Each agent has one presence state machine, kept by the `AgentDirectory`:

    available → ringing → on_call → wrap_up → available
    available | wrap_up → away → available;   ringing → available | away (no answer / declined)

Anything else raises `InvalidTransition`. Every state carries `since` (monotonic, for idle times
and handle times) and `since_wall` (epoch seconds, for people). The directory answers
`longest_idle(skill)` and reserves an agent atomically (`reserve`: available → ringing in one
synchronous step, so two calls never ring the same person).

Several workers: with `claims` (duck-typed: `claim(agent_id, call_ref) -> bool` and
`release(agent_id, call_ref)`, e.g. the store's agent claims on PostgreSQL), `reserve` also takes
the agent's shared claim, held until the agent is available or away again, so two workers never
ring one agent either. An agent another worker holds is `held_elsewhere`: not offered here until
`sync_claims` (fed by the database's notifications) says they are free, which wakes the queue.

Registration: the directory is the password book and the binding sink for the telephony
registrar (duck-typed, routing does not import telephony): `credentials_for(user)` and
`on_register(registration)` where registration has `.user`, `.contact`, `.expires`. A live
registration replaces the configured URI as the place to INVITE; when it expires the agent falls
back to the configured URI, or is unreachable (not offered calls) if there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
import hashlib
import logging
import re
import threading
import time
from typing import Any, Callable, Iterable, Mapping

log = logging.getLogger(__name__)

REALM = "ivr"  # the registrar's digest realm; an HA1 is made for one realm

__all__ = [
    "REALM", "config_passwords", "ha1_pair",
    "Agent", "AgentConfigError", "AgentDirectory", "AgentStatus", "InvalidTransition", "Presence", "TRANSITIONS",
    "can_transition", "load_agents", "parse_agent_spec", "pick_longest_idle",
]


class Presence(str, Enum):
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"

    def __str__(self) -> str:
        return self.value


TRANSITIONS: dict[Presence, frozenset[Presence]] = {
    Presence.AVAILABLE: frozenset({Presence.RINGING, Presence.AWAY}),
    Presence.RINGING: frozenset({Presence.ON_CALL, Presence.AVAILABLE, Presence.AWAY}),
    Presence.ON_CALL: frozenset({Presence.WRAP_UP}),
    Presence.WRAP_UP: frozenset({Presence.AVAILABLE, Presence.AWAY}),
    Presence.AWAY: frozenset({Presence.AVAILABLE}),
}


def can_transition(old: Presence, new: Presence) -> bool:
    return new in TRANSITIONS[old]


class InvalidTransition(ValueError):
    def __init__(self, agent_id: str, old: Presence, new: Presence) -> None:
        super().__init__(f"agent {agent_id}: cannot go from {old.value} to {new.value}")
        self.agent_id, self.old, self.new = agent_id, old, new


class AgentConfigError(ValueError):
    """An agent definition that cannot be used; the message names the agent and field."""


_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
_SKILL_RE = re.compile(r"^[a-z0-9_\-]+$")
_URI_RE = re.compile(r"^sips?:[^\s<>\"]+$")
_SPEC_KEYS = ("skills", "name", "password")


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    sip_uri: str | None  # configured place to ring them; None when they must REGISTER
    skills: frozenset[str] = frozenset()
    ha1: Mapping[str, str] | None = field(default=None, repr=False, compare=False)  # "MD5"/"SHA-256" → HA1

    def has_skill(self, skill: str | None) -> bool:
        """A call with no skill can go to anyone."""
        return not skill or skill in self.skills

    def public(self) -> dict[str, Any]:
        """Everything but the password."""
        return {"id": self.id, "name": self.name, "sip_uri": self.sip_uri, "skills": sorted(self.skills)}


def _uri_user(uri: str) -> str | None:
    rest = uri.split(":", 1)[1]
    if "@" not in rest:
        return None
    return rest.rsplit("@", 1)[0].split(":", 1)[0] or None


def ha1_pair(user: str, realm: str, password: str) -> dict[str, str]:
    """{"MD5": ..., "SHA-256": ...}: H(user:realm:password), what a registrar keeps (RFC 7616)."""
    text = f"{user}:{realm}:{password}".encode()
    return {"MD5": hashlib.md5(text).hexdigest(), "SHA-256": hashlib.sha256(text).hexdigest()}


def config_passwords(items: Iterable[Mapping[str, Any] | str | Agent]) -> list[str]:
    """The plain passwords written in an agents configuration (for the log redactor), unparsed."""
    found: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get("password"), str):
            found.append(item["password"])
        elif isinstance(item, str):
            found += [p.split("=", 1)[1].strip() for p in item.split(";")[1:]
                      if p.partition("=")[0].strip().lower() == "password" and "=" in p]
    return [p for p in found if p]


def _make_agent(agent_id: str | None, name: str | None, uri: str | None, skills: Iterable[str] | str | None,
                password: str | None, where: str, realm: str = REALM) -> Agent:
    if uri is not None:
        uri = uri.strip() or None
    if uri is not None and not _URI_RE.match(uri):
        raise AgentConfigError(f"{where}: sip_uri must be a sip: URI (got {uri!r})")
    if not agent_id:
        agent_id = _uri_user(uri) if uri else None
        if not agent_id:
            raise AgentConfigError(f"{where}: needs an id (or a SIP URI with a user part)")
    if not _ID_RE.match(agent_id):
        raise AgentConfigError(f"{where}: id must be letters, digits, '.', '_' or '-' (got {agent_id!r})")
    if isinstance(skills, str):
        skills = [s for s in re.split(r"[,\s]+", skills) if s]
    skill_set = frozenset(s.strip().lower() for s in (skills or ()))
    bad = [s for s in skill_set if not _SKILL_RE.match(s)]
    if bad:
        raise AgentConfigError(f"{where}: bad skill name {sorted(bad)[0]!r}")
    if password is not None and not isinstance(password, str):
        raise AgentConfigError(f"{where}: password must be text")
    if password:
        log.warning("agent %s: a password in the configuration is hashed at load; set it with "
                    "`ivr users sip-password %s` and remove it from the configuration", agent_id, agent_id)
    # With neither a URI nor a password the agent REGISTERs with credentials from the store.
    return Agent(agent_id, (name or agent_id).strip(), uri, skill_set,
                 ha1_pair(agent_id, realm, password) if password else None)


def parse_agent_spec(spec: str) -> Agent:
    """A CLI `--agent` value: `sip:alice@127.0.0.1:5090`, or
    `alice=sip:alice@127.0.0.1:5090;skills=billing,orders;name=Alice Smith;password=s3cret`
    (`alice=;password=s3cret;skills=billing` for an agent who only REGISTERs). The known
    parameters (skills, name, password) are taken off the end; any other `;param` stays on the URI.
    """
    text = spec.strip()
    if not text:
        raise AgentConfigError("--agent: empty")
    agent_id = None
    head, eq, rest = text.partition("=")
    if eq and not head.lower().startswith(("sip:", "sips:")) and ";" not in head:
        agent_id, text = head.strip(), rest
    pieces = text.split(";")
    uri_parts, opts = [pieces[0]], {}
    for piece in pieces[1:]:
        key, peq, value = piece.partition("=")
        if peq and key.strip().lower() in _SPEC_KEYS:
            opts[key.strip().lower()] = value.strip()
        else:
            uri_parts.append(piece)
    uri = ";".join(uri_parts).strip() or None
    return _make_agent(agent_id, opts.get("name"), uri, opts.get("skills"), opts.get("password"), f"--agent {spec!r}")


def load_agents(items: Iterable[Mapping[str, Any] | str | Agent]) -> list[Agent]:
    """Agents from config: dicts (`id`, `name`, `sip_uri`, `skills`, `password`), CLI spec strings,
    or Agents. Duplicate ids are an error."""
    agents: list[Agent] = []
    for i, item in enumerate(items):
        if isinstance(item, Agent):
            agent = item
        elif isinstance(item, str):
            agent = parse_agent_spec(item)
        elif isinstance(item, Mapping):
            where = f"agents[{i}]"
            unknown = set(item) - {"id", "name", "sip_uri", "uri", "skills", "password"}
            if unknown:
                raise AgentConfigError(f"{where}.{sorted(unknown)[0]}: unknown field")
            skills = item.get("skills")
            if skills is not None and not isinstance(skills, (str, list, tuple, set, frozenset)):
                raise AgentConfigError(f"{where}.skills: must be a list of names")
            agent = _make_agent(item.get("id"), item.get("name"), item.get("sip_uri", item.get("uri")), skills,
                                item.get("password"), where)
        else:
            raise AgentConfigError(f"agents[{i}]: must be a mapping or a string")
        if any(a.id == agent.id for a in agents):
            raise AgentConfigError(f"agents[{i}]: duplicate id {agent.id!r}")
        agents.append(agent)
    return agents


@dataclass
class AgentStatus:
    """The live side of one agent."""

    presence: Presence = Presence.AVAILABLE
    since: float = 0.0  # monotonic time the presence was entered
    since_wall: float = 0.0  # epoch seconds of the same moment
    call_ref: str | None = None  # the call ringing / with this agent
    call_started: float | None = None  # monotonic: when on_call began (for handle times)
    contact: str | None = None  # a live REGISTER binding
    contact_expires: float | None = None  # monotonic expiry of that binding
    contact_from: str | None = None  # the worker that took that REGISTER (None: this one)
    calls_handled: int = 0
    held_elsewhere: bool = False  # another worker's call holds this agent (shared claims)

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"state": self.presence.value, "since": self.since_wall, "seconds": round(max(0.0, now - self.since), 1),
                "call_id": self.call_ref, "registered": self.contact is not None and (self.contact_expires or 0) > now,
                "calls_handled": self.calls_handled, "held_elsewhere": self.held_elsewhere}


Listener = Callable[[Agent, Presence, Presence, AgentStatus], None]


def pick_longest_idle(candidates: Iterable[tuple[Agent, AgentStatus]], skill: str | None) -> Agent | None:
    """Pure: of the available agents with `skill`, the one available longest (ties: listed first)."""
    best: tuple[float, int] | None = None
    chosen = None
    for order, (agent, status) in enumerate(candidates):
        if status.presence is Presence.AVAILABLE and not status.held_elsewhere and agent.has_skill(skill):
            key = (status.since, order)
            if best is None or key < best:
                best, chosen = key, agent
    return chosen


class AgentDirectory:
    """The agents and their presence. Synchronous and lock-protected: a check-and-set (`reserve`)
    never yields to the event loop, so it is atomic for asyncio tasks (and threads)."""

    def __init__(self, agents: Iterable[Agent | Mapping[str, Any] | str] = (), *, initial: Presence = Presence.AVAILABLE,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 claims: Any = None) -> None:
        self.clock = clock
        self.wall = wall
        self.claims = claims
        self._lock = threading.RLock()
        self._agents: dict[str, Agent] = {}
        self._status: dict[str, AgentStatus] = {}
        self._listeners: list[Listener] = []
        for agent in load_agents(agents):
            self.add(agent, initial)

    # ---- membership -------------------------------------------------------------------------------
    def add(self, agent: Agent, presence: Presence = Presence.AVAILABLE) -> None:
        with self._lock:
            if agent.id in self._agents:
                raise AgentConfigError(f"duplicate agent id {agent.id!r}")
            self._agents[agent.id] = agent
            self._status[agent.id] = AgentStatus(Presence(presence), self.clock(), self.wall())

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._agents

    def __iter__(self):
        return iter(list(self._agents.values()))

    def __len__(self) -> int:
        return len(self._agents)

    def get(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise KeyError(f"no agent {agent_id!r}") from None

    def status(self, agent_id: str) -> AgentStatus:
        self.get(agent_id)
        return self._status[agent_id]

    def presence(self, agent_id: str) -> Presence:
        return self.status(agent_id).presence

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """`listener(agent, old, new, status)` after every presence change; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ---- presence --------------------------------------------------------------------------------
    def set_presence(self, agent_id: str, new: Presence | str, *, call_ref: str | None = None) -> AgentStatus:
        """Move an agent along the state machine; raises InvalidTransition (a ValueError)."""
        new = Presence(new)
        with self._lock:
            agent = self.get(agent_id)
            st = self._status[agent_id]
            old = st.presence
            if not can_transition(old, new):
                raise InvalidTransition(agent_id, old, new)
            now = self.clock()
            st.presence, st.since, st.since_wall = new, now, self.wall()
            if new is Presence.RINGING:
                st.call_ref = call_ref
            elif new is Presence.ON_CALL:
                st.call_started = now
                st.call_ref = call_ref or st.call_ref
            elif new is Presence.WRAP_UP:
                st.calls_handled += 1
            elif new in (Presence.AVAILABLE, Presence.AWAY):
                if self.claims is not None and old is not Presence.AWAY and old is not Presence.AVAILABLE:
                    self.claims.release(agent_id, st.call_ref)
                st.call_ref = None
        for listener in list(self._listeners):
            listener(agent, old, new, st)
        return st

    def reserve(self, agent_id: str, call_ref: str | None = None) -> bool:
        """available → ringing for `call_ref`, only if still available and reachable."""
        with self._lock:
            st = self.status(agent_id)
            if st.presence is not Presence.AVAILABLE or st.held_elsewhere or self.contact_uri(agent_id) is None:
                return False
            if self.claims is not None and not self.claims.claim(agent_id, call_ref or ""):
                st.held_elsewhere = True  # until sync_claims says otherwise
                return False
            self.set_presence(agent_id, Presence.RINGING, call_ref=call_ref)
            return True

    def sync_claims(self, holders: Mapping[str, str], me: str | None) -> None:
        """Every shared claim now (agent id → worker): agents held by another worker are not
        offered here; one freed is offered again, and the listeners hear it as available (so a
        waiting call takes them)."""
        freed = []
        with self._lock:
            for agent_id, st in self._status.items():
                held = agent_id in holders and holders[agent_id] != me
                if st.held_elsewhere and not held and st.presence is Presence.AVAILABLE:
                    freed.append((self._agents[agent_id], st))
                st.held_elsewhere = held
        for agent, st in freed:
            for listener in list(self._listeners):
                listener(agent, Presence.AVAILABLE, Presence.AVAILABLE, st)

    def reserve_longest_idle(self, skill: str | None, call_ref: str | None = None) -> Agent | None:
        """Pick and reserve in one step: the longest-idle reachable available agent with `skill`."""
        with self._lock:
            agent = self.longest_idle(skill)
            if agent is not None and self.reserve(agent.id, call_ref):
                return agent
            return None

    def longest_idle(self, skill: str | None = None) -> Agent | None:
        with self._lock:
            return pick_longest_idle(self._reachable(), skill)

    def available(self, skill: str | None = None) -> list[Agent]:
        """Reachable available agents with `skill`, longest idle first."""
        with self._lock:
            pairs = [(a, s) for a, s in self._reachable()
                     if s.presence is Presence.AVAILABLE and not s.held_elsewhere and a.has_skill(skill)]
            return [a for a, _ in sorted(pairs, key=lambda p: p[1].since)]

    def staffed(self, skill: str | None = None) -> int:
        """Agents with `skill` who are signed in (not away) and reachable: the ones who will take calls."""
        with self._lock:
            return sum(1 for a, s in self._reachable() if a.has_skill(skill) and s.presence is not Presence.AWAY)

    def _reachable(self) -> list[tuple[Agent, AgentStatus]]:
        return [(a, self._status[a.id]) for a in self._agents.values() if self.contact_uri(a.id) is not None]

    def idle_seconds(self, agent_id: str) -> float | None:
        st = self.status(agent_id)
        return self.clock() - st.since if st.presence is Presence.AVAILABLE else None

    # ---- registration --------------------------------------------------------------------------
    def contact_uri(self, agent_id: str) -> str | None:
        """Where to INVITE the agent now: a live REGISTER binding, else the configured URI."""
        st = self.status(agent_id)
        if st.contact is not None and st.contact_expires is not None and st.contact_expires > self.clock():
            return st.contact
        return self._agents[agent_id].sip_uri

    def credentials_for(self, user: str) -> Mapping[str, str] | None:
        """The configured HA1s of the agent whose id is `user` (None: unknown or none configured)."""
        agent = self._agents.get(user)
        return agent.ha1 if agent is not None else None

    def on_register(self, registration: Any) -> int | None:
        """A binding from the registrar (`.user`, `.contact`, `.expires`): record or clear it."""
        self.register(registration.user, registration.contact, registration.expires)
        return None

    def register(self, agent_id: str, contact: str, expires: float) -> None:
        with self._lock:
            st = self.status(agent_id)
            if expires <= 0 or contact == "*":
                if contact == "*" or st.contact == contact:
                    st.contact, st.contact_expires = None, None
                return
            st.contact, st.contact_expires = contact, self.clock() + expires

    # ---- views -------------------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        now = self.clock()
        with self._lock:
            return [{**a.public(), **self._status[a.id].to_dict(now), "contact": self.contact_uri(a.id)}
                    for a in self._agents.values()]
