"""DTMF: RFC 4733 telephone-event payloads and SIP INFO bodies (application/dtmf-relay).

One key press is many RTP packets sharing one RTP timestamp: updates while the key is held,
then the end packet sent three times (RFC 4733 §2.5.1.4). `DtmfReceiver` reports each press
exactly once, on its first end packet; a press whose end packets were all lost is reported when
the next event starts, so no digit is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
import struct

EVENTS = "0123456789*#ABCD"


class DtmfError(ValueError):
    pass


@dataclass(frozen=True)
class DtmfEvent:
    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str | None:
        return EVENTS[self.event] if 0 <= self.event < len(EVENTS) else None


def parse_event(payload: bytes) -> DtmfEvent:
    if len(payload) < 4:
        raise DtmfError("telephone-event payload shorter than 4 octets")
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return DtmfEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def build_event(digit: str, end: bool, duration: int, volume: int = 10) -> bytes:
    idx = EVENTS.find(digit.upper())
    if len(digit) != 1 or idx < 0:
        raise DtmfError(f"not a DTMF digit: {digit!r}")
    return struct.pack("!BBH", idx, (0x80 if end else 0) | (volume & 0x3F), duration & 0xFFFF)


def event_packets(digit: str, duration_ms: int = 100, packet_ms: int = 20, clock_rate: int = 8000) -> list[tuple[bytes, bool]]:
    """Payloads for one key press (all sent with the same RTP timestamp) and their marker bits."""
    step = packet_ms * clock_rate // 1000
    total = max(step, duration_ms * clock_rate // 1000)
    out = [(build_event(digit, False, d), i == 0) for i, d in enumerate(range(step, total, step))]
    out += [(build_event(digit, True, total), not out and i == 0) for i in range(3)]
    return out


class DtmfReceiver:
    """Turns a stream of telephone-event packets into digits, each once."""

    def __init__(self) -> None:
        self._current: tuple[int, int] | None = None  # (rtp timestamp, event) of the open press
        self._done: set[int] = set()  # timestamps already reported (retransmitted ends)

    def feed(self, timestamp: int, payload: bytes) -> list[str]:
        try:
            ev = parse_event(payload)
        except DtmfError:
            return []
        digits: list[str] = []
        if timestamp in self._done:
            return digits
        if self._current is not None and self._current[0] != timestamp:
            # a new press began while the previous one never saw its end packet
            prev = EVENTS[self._current[1]] if self._current[1] < len(EVENTS) else None
            self._mark_done(self._current[0])
            if prev:
                digits.append(prev)
            self._current = None
        if ev.end:
            self._mark_done(timestamp)
            self._current = None
            if ev.digit:
                digits.append(ev.digit)
        else:
            self._current = (timestamp, ev.event)
        return digits

    def _mark_done(self, timestamp: int) -> None:
        self._done.add(timestamp)
        if len(self._done) > 64:
            self._done = set(sorted(self._done)[-32:])


def parse_info_body(content_type: str, body: bytes) -> str | None:
    """The digit in a SIP INFO: application/dtmf-relay (`Signal=5`) or application/dtmf (`5`)."""
    text = body.decode("utf-8", "replace").strip()
    ctype = content_type.lower()
    if ctype == "application/dtmf-relay":
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip().lower() == "signal":
                value = value.strip()
                if len(value) == 1 and value.upper() in EVENTS:
                    return value.upper()
                if value.isdigit() and int(value) in (10, 11):  # some phones send 10/11 for * and #
                    return "*" if value == "10" else "#"
        return None
    if ctype == "application/dtmf":
        return text.upper() if len(text) == 1 and text.upper() in EVENTS else None
    return None
