"""SIP transactions (RFC 3261 §17, with the RFC 6026 Accepted states).

A transaction owns retransmission and absorbs duplicates, so the endpoint above it sees each
request once and each response once. Timers run on the event loop; every duration derives from
`Timers` (T1, T2, T4), so tests shrink T1 and watch a whole timeout play out in milliseconds.
`send` is a plain callable taking bytes: the transport and destination are bound by the caller.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
import enum
import logging
from typing import Callable

from .sip_message import SipRequest, SipResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timers:
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0

    @property
    def b(self) -> float:  # also F, H, J, L, M
        return 64 * self.t1


class State(enum.Enum):
    TRYING = "trying"
    CALLING = "calling"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def server_key(req: SipRequest) -> tuple[str, str, str]:
    """RFC 3261 §17.2.3 matching: branch + sent-by + method (an ACK belongs to its INVITE)."""
    via = req.top_via
    method = "INVITE" if req.method == "ACK" else req.method
    return (via.branch or f"rfc2543:{req.call_id}:{req.cseq.number}", via.sent_by.lower(), method)


def client_key(msg: SipRequest | SipResponse) -> tuple[str, str]:
    """RFC 3261 §17.1.3: branch of the top Via + CSeq method."""
    return (msg.top_via.branch or "", msg.cseq.method)


class _Transaction:
    def __init__(self, request: SipRequest, send: Callable[[bytes], None], timers: Timers, reliable: bool,
                 on_terminated: Callable[["_Transaction"], None] | None = None) -> None:
        self.request = request
        self.send = send
        self.timers = timers
        self.reliable = reliable
        self.state = State.TRYING
        self._handles: dict[str, asyncio.TimerHandle] = {}
        self._on_terminated = on_terminated
        self._loop = asyncio.get_running_loop()

    def _start(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        self._cancel(name)
        self._handles[name] = self._loop.call_later(delay, self._fire, name, fn)

    def _fire(self, name: str, fn: Callable[[], None]) -> None:
        self._handles.pop(name, None)
        if self.state is not State.TERMINATED:
            try:
                fn()
            except Exception:  # a timer must never kill the loop
                log.exception("transaction timer %s failed", name)
                self.terminate()

    def _cancel(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle:
            handle.cancel()

    def _send(self, data: bytes) -> None:
        try:
            self.send(data)
        except Exception as exc:  # transport errors end the transaction, never the endpoint
            log.warning("send failed: %s", exc)

    def terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
        if self._on_terminated:
            self._on_terminated(self)


# ---- server side ------------------------------------------------------------------------------

class ServerTransaction(_Transaction):
    """Non-INVITE server transaction (Trying → Proceeding → Completed → Terminated, timer J)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_response: bytes | None = None

    def receive_retransmission(self, req: SipRequest) -> None:
        if self.last_response is not None and self.state in (State.PROCEEDING, State.COMPLETED):
            self._send(self.last_response)

    def respond(self, response: SipResponse) -> None:
        if self.state in (State.COMPLETED, State.TERMINATED):
            return
        self.last_response = response.serialize()
        self._send(self.last_response)
        if response.status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._start("J", 0 if self.reliable else self.timers.b, self.terminate)


class InviteServerTransaction(ServerTransaction):
    """INVITE server transaction with timers G, H, I and RFC 6026's Accepted state (timer L).

    In Accepted the 2xx is retransmitted (T1 doubling to T2) until `ack_received()`, the UAS core
    behaviour of RFC 3261 §13.3.1.4; `on_no_ack` fires if no ACK comes within 64*T1.
    """

    def __init__(self, *args, on_no_ack: Callable[[], None] | None = None, on_timeout: Callable[[], None] | None = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = State.PROCEEDING
        self.final_status: int | None = None
        self.on_no_ack = on_no_ack
        self.on_timeout = on_timeout
        self._acked = False

    def receive_retransmission(self, req: SipRequest) -> None:
        if self.last_response is not None and self.state in (State.PROCEEDING, State.COMPLETED, State.ACCEPTED):
            self._send(self.last_response)

    def respond(self, response: SipResponse) -> None:
        if self.state is not State.PROCEEDING:
            return
        self.last_response = response.serialize()
        self._send(self.last_response)
        if response.status < 200:
            return
        self.final_status = response.status
        if response.status < 300:
            self.state = State.ACCEPTED
            if not self.reliable:
                self._retransmit_2xx(self.timers.t1)
            self._start("L", self.timers.b, self._l_fired)
        else:
            self.state = State.COMPLETED
            if not self.reliable:
                self._g(self.timers.t1)
            self._start("H", self.timers.b, self._h_fired)

    def _retransmit_2xx(self, interval: float) -> None:
        def fire() -> None:
            if not self._acked and self.last_response:
                self._send(self.last_response)
                self._retransmit_2xx(min(2 * interval, self.timers.t2))
        self._start("2xx", interval, fire)

    def ack_received(self) -> None:
        """The UAS core matched an ACK to our 2xx."""
        self._acked = True
        self._cancel("2xx")

    def _l_fired(self) -> None:
        if not self._acked and self.on_no_ack:
            self.on_no_ack()
        self.terminate()

    def _g(self, interval: float) -> None:
        def fire() -> None:
            if self.state is State.COMPLETED and self.last_response:
                self._send(self.last_response)
                self._g(min(2 * interval, self.timers.t2))
        self._start("G", interval, fire)

    def _h_fired(self) -> None:
        if self.on_timeout:
            self.on_timeout()
        self.terminate()

    def receive_ack(self, ack: SipRequest) -> None:
        if self.state is State.COMPLETED:
            self.state = State.CONFIRMED
            self._cancel("G")
            self._cancel("H")
            self._start("I", 0 if self.reliable else self.timers.t4, self.terminate)


# ---- client side ------------------------------------------------------------------------------

class ClientTransaction(_Transaction):
    """Non-INVITE client transaction: timers E (retransmit), F (timeout), K (linger)."""

    def __init__(self, request: SipRequest, send: Callable[[bytes], None], timers: Timers, reliable: bool,
                 on_response: Callable[[SipResponse], None], on_timeout: Callable[[], None] | None = None,
                 on_terminated: Callable[[_Transaction], None] | None = None) -> None:
        super().__init__(request, send, timers, reliable, on_terminated)
        self.on_response = on_response
        self.on_timeout = on_timeout
        self.data = request.serialize()

    def start(self) -> None:
        self._send(self.data)
        if not self.reliable:
            self._e(self.timers.t1)
        self._start("F", self.timers.b, self._timeout)

    def _e(self, interval: float) -> None:
        def fire() -> None:
            if self.state in (State.TRYING, State.PROCEEDING):
                self._send(self.data)
                self._e(self.timers.t2 if self.state is State.PROCEEDING else min(2 * interval, self.timers.t2))
        self._start("E", interval, fire)

    def _timeout(self) -> None:
        if self.on_timeout:
            self.on_timeout()
        self.terminate()

    def receive_response(self, response: SipResponse) -> None:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return
        if response.status < 200:
            self.state = State.PROCEEDING
        else:
            self.state = State.COMPLETED
            self._cancel("E")
            self._cancel("F")
            self._start("K", 0 if self.reliable else self.timers.t4, self.terminate)
        self.on_response(response)


class InviteClientTransaction(ClientTransaction):
    """INVITE client transaction: timers A, B, D; ACKs non-2xx finals itself (§17.1.1.3)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = State.CALLING

    def start(self) -> None:
        self._send(self.data)
        if not self.reliable:
            self._a(self.timers.t1)
        self._start("B", self.timers.b, self._timeout)

    def _a(self, interval: float) -> None:
        def fire() -> None:
            if self.state is State.CALLING:
                self._send(self.data)
                self._a(2 * interval)
        self._start("A", interval, fire)

    def receive_response(self, response: SipResponse) -> None:
        if self.state is State.TERMINATED:
            return
        if response.status < 200:
            if self.state in (State.CALLING, State.PROCEEDING):
                self.state = State.PROCEEDING
                self._cancel("A")
                self.on_response(response)
            return
        if response.status < 300:
            if self.state in (State.CALLING, State.PROCEEDING):
                self.state = State.ACCEPTED  # RFC 6026: absorb-free; 2xx retransmissions go to the TU
                self._cancel("A")
                self._cancel("B")
                self._start("M", self.timers.b, self.terminate)
            self.on_response(response)  # every 2xx reaches the TU, which (re-)ACKs it
            return
        if self.state in (State.CALLING, State.PROCEEDING):
            self.state = State.COMPLETED
            self._cancel("A")
            self._cancel("B")
            self._send(self._ack_for(response))
            self._start("D", 0 if self.reliable else self.timers.d, self.terminate)
            self.on_response(response)
        elif self.state is State.COMPLETED:
            self._send(self._ack_for(response))

    def _ack_for(self, response: SipResponse) -> bytes:
        req = self.request
        ack = SipRequest("ACK", req.uri)
        ack.headers.add("Via", req.headers.get("Via"))
        for name in ("Max-Forwards", "From", "Call-ID"):
            if name in req.headers:
                ack.headers.add(name, req.headers.get(name))
        ack.headers.add("To", response.headers.get("To"))
        ack.headers.add("CSeq", f"{req.cseq.number} ACK")
        for route in req.headers.get_all("Route"):
            ack.headers.add("Route", route)
        return ack.serialize()
