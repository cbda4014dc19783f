"""Hand-off to the company's own PBX: the bot calls a queue URI there (Asterisk queues, FreeSWITCH
mod_callcenter, a cloud ACD) and bridges the caller to it, instead of ringing agents registered to
the bot.

The context rides where SBCs let it through (X- headers are commonly stripped):

    User-to-User: 63...;encoding=hex;purpose=isdn-uui;content=isdn-uui   (RFC 7433, <= 128 octets)
    Call-Info: <https://panel.example/api/pbx/pop/<call id>?sig=...>;purpose=info   (RFC 3261 §20.9)

The PBX's agent desktop (or its dialplan, on the agent answering) posts the agent id and our call
id to `web.routers.pbx_webhook`, which finds the pop kept here (`PbxDesk`) and pushes it to that
agent's screen through the `ScreenPopHub`. The desk is found from the hub (`desk_for(hub)`), so the
transfer and the web router share it without further wiring.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import quote

from calls.events import CallEvent, TransferAttemptEvent, TransferEvent
from nlu.redact import redact

log = logging.getLogger(__name__)

UUI_MAX_OCTETS = 128  # ISDN UUIE interworking (RFC 7434 §5): what a PBX keeps end to end
POP_TTL_S = 3600.0


@dataclass(frozen=True)
class PbxHandoffConfig:
    """Where the company's queue is, and how the PBX reaches the screen pop."""

    queue_uri: str  # e.g. sip:support@10.0.0.5:5060 (the UAC dials IP literals)
    public_url: str = "http://127.0.0.1:8080"  # this panel as the PBX's desktops see it
    uui_purpose: str = "isdn-uui"
    ring_timeout_s: float = 60.0  # a queue answers at once (music on hold) or when an agent does

    def __post_init__(self) -> None:
        if not self.queue_uri.startswith(("sip:", "sips:")) or "@" not in self.queue_uri:
            raise ValueError(f"queue_uri must be a sip:/sips: URI with a user part, not {self.queue_uri!r}")
        if not self.public_url.startswith(("http://", "https://")):
            raise ValueError(f"public_url must be an http(s) URL, not {self.public_url!r}")


def encode_uui(data: bytes, purpose: str = "isdn-uui") -> str:
    """RFC 7433 §4: hex-encoded user data with its encoding, purpose and content parameters."""
    if len(data) > UUI_MAX_OCTETS:
        raise ValueError(f"UUI data is {len(data)} octets (at most {UUI_MAX_OCTETS})")
    if not purpose.replace("-", "").isalnum():
        raise ValueError(f"bad UUI purpose {purpose!r}")
    return f"{data.hex()};encoding=hex;purpose={purpose};content={purpose}"


def decode_uui(value: str) -> tuple[bytes, dict[str, str]]:
    """The inverse of `encode_uui`, for tests and for the PBX side; ValueError on a malformed value."""
    data, *params = [p.strip() for p in value.split(";")]
    parsed = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in params if p)}
    if parsed.get("encoding", "hex").lower() != "hex":
        raise ValueError(f"UUI encoding {parsed['encoding']!r} is not hex")
    return bytes.fromhex(data), parsed


def uui_payload(call_id: str, intent: str | None, reason: str) -> bytes:
    """`cid=<id>;i=<intent>;r=<reason>` cut to fit: the call id first, it is what the pop needs."""
    parts = [f"cid={call_id}", f"i={intent or 'unknown'}", f"r={reason}"]
    out = b""
    for part in parts:
        piece = (b";" if out else b"") + redact(part).encode()[:UUI_MAX_OCTETS]
        if len(out) + len(piece) > UUI_MAX_OCTETS:
            break
        out += piece
    return out


def uui_fields(data: bytes) -> dict[str, str]:
    """`uui_payload`'s fields back: {"cid": ..., "i": ..., "r": ...}."""
    text = data.decode("utf-8", "replace")
    return {k: v for k, _, v in (p.partition("=") for p in text.split(";")) if k}


def pop_signature(secret: bytes, call_id: str) -> str:
    return hmac.new(secret, b"pbx-pop:" + call_id.encode(), hashlib.sha256).hexdigest()[:32]


def pop_url(public_url: str, call_id: str, secret: bytes) -> str:
    return f"{public_url.rstrip('/')}/api/pbx/pop/{quote(call_id, safe='')}?sig={pop_signature(secret, call_id)}"


def handoff_headers(call_id: str, reason: str, summary: Mapping[str, Any], config: PbxHandoffConfig,
                    secret: bytes) -> list[tuple[str, str]]:
    """The INVITE's context headers: RFC 7433 User-to-User and a Call-Info URL to the pop."""
    uui = encode_uui(uui_payload(call_id, summary.get("intent"), reason), config.uui_purpose)
    return [("User-to-User", uui),
            ("Call-Info", f"<{pop_url(config.public_url, call_id, secret)}>;purpose=info")]


class PbxDesk:
    """Pops waiting for the PBX to say which agent took the call (kept an hour at most)."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.monotonic) -> None:
        self.secret = secret
        self.clock = clock
        self._pops: dict[str, tuple[float, dict[str, Any]]] = {}

    def keep(self, call_id: str, pop: dict[str, Any]) -> None:
        now = self.clock()
        self._pops = {k: v for k, v in self._pops.items() if now - v[0] < POP_TTL_S}
        self._pops[call_id] = (now, pop)

    def get(self, call_id: str) -> dict[str, Any] | None:
        found = self._pops.get(call_id)
        if found is None or self.clock() - found[0] >= POP_TTL_S:
            return None
        return found[1]

    def signed(self, call_id: str, sig: str) -> bool:
        return hmac.compare_digest(pop_signature(self.secret, call_id), sig or "")


_DESKS: "weakref.WeakKeyDictionary[Any, PbxDesk]" = weakref.WeakKeyDictionary()


def desk_for(hub: Any, secret: bytes | None = None) -> PbxDesk:
    """The hub's desk (made on first use; a given `secret` replaces the random one)."""
    desk = _DESKS.get(hub)
    if desk is None:
        import secrets as _secrets

        desk = _DESKS[hub] = PbxDesk(secret or _secrets.token_bytes(32))
    elif secret is not None:
        desk.secret = secret
    return desk


async def hand_to_pbx(caller, call_id: str, summary: dict, reason: str, config: PbxHandoffConfig, *,
                      invite: Callable[..., Awaitable[Any]], hub: Any, on_event: Callable[[CallEvent], None],
                      extra_headers: list[tuple[str, str]] = (), before_bridge: Callable[[], Awaitable[None]] | None = None
                      ) -> tuple[str, float | None]:
    """INVITE the queue with the context, bridge the caller to it until either side hangs up.

    Returns ("done" | "failed" | "abandoned", seconds to the bridge). The caller keeps hearing
    the transfer's hold audio while the queue rings; `before_bridge` stops it once the queue answers.
    """
    from telephony import Bridge, CallFailed

    desk = desk_for(hub)
    desk.keep(call_id, {"type": "screen_pop", "call_id": call_id, "reason": reason, **summary})
    target = f"pbx:{config.queue_uri}"
    t0 = time.monotonic()
    on_event(TransferEvent(state="ringing", agent=target))
    headers = [*handoff_headers(call_id, reason, summary, config, desk.secret), *extra_headers]
    ring = asyncio.ensure_future(invite(config.queue_uri, headers=headers, ring_timeout=config.ring_timeout_s))
    gone = asyncio.ensure_future(caller.ended.wait())
    try:
        await asyncio.wait({ring, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not ring.done():
        ring.cancel()
        try:
            await ring
        except (asyncio.CancelledError, Exception):
            pass
        on_event(TransferAttemptEvent(agent=target, result="cancelled"))
        return "abandoned", None
    try:
        leg = ring.result()
    except (CallFailed, OSError, ValueError) as exc:
        status = getattr(exc, "status", None)
        log.warning("PBX queue %s refused the hand-off: %s", config.queue_uri, exc)
        on_event(TransferAttemptEvent(agent=target, result="failed", error=str(exc),
                                       **({"status": status} if isinstance(status, int) else {})))
        return "failed", None
    elapsed = round(time.monotonic() - t0, 3)
    on_event(TransferAttemptEvent(agent=target, result="answered", answered_after_s=elapsed, mode="pbx"))
    on_event(TransferEvent(state="bridged", agent=target, time_to_bridge_s=elapsed, mode="pbx"))
    if before_bridge is not None:
        await before_bridge()
    bridge = Bridge(caller, leg, joined=True, hangup_together=True)
    bridge.start()
    try:
        await bridge.wait()
    finally:
        await bridge.stop()
        for c in (caller, leg):
            if not c.ended.is_set():
                await c.hangup()
    on_event(TransferEvent(state="done", agent=target, ended=bridge.end_reason, mode="pbx"))
    return "done", elapsed
