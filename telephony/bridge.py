"""The media bridge: relays audio between two calls of ours (a caller leg and an agent leg).

Each leg's `read_frame()` already yields decoded 8 kHz PCM at that leg's network pace and
`play()` encodes with that leg's own codec, so relaying PCM frame by frame transcodes PCMA↔PCMU
for free (and G.711 decode→encode of the same law is lossless). One pump per direction: every
20 ms frame heard on a leg is

  * handed to the taps (`tap(leg)` queues and the `on_frame(label, pcm)` callback), so the
    application keeps transcribing both parties after the hand-off;
  * relayed to the other leg when the bridge is joined, mixed with anything played into that
    leg alone (`play(leg, pcm)`: a whisper to the agent, a beep); when the bridge is split, the
    other leg hears only what is played to it, or its hold audio loop (`hold(leg, pcm)`).

Latency is bounded: if a leg's send queue grows beyond `max_queue_ms` (the two legs' clocks
tick at different phases, a stalled loop), the oldest audio is dropped, never accumulated.
RFC 4733 / INFO digits are relayed too while joined, and reported to `on_dtmf(label, digit)`.
When either leg ends the bridge ends, and with `hangup_together` the other leg gets its BYE.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import numpy as np

from .call import Call
from .media import FRAME_BYTES

log = logging.getLogger(__name__)


class _Side:
    def __init__(self, label: str, call: Call) -> None:
        self.label = label
        self.call = call
        self.inject = bytearray()  # audio for this leg only, mixed over the relay
        self.hold: bytes = b""
        self.hold_pos = 0
        self.taps: list[asyncio.Queue] = []
        self.frames_in = 0  # frames heard on this leg
        self.frames_out = 0  # frames the bridge gave this leg to send
        self.dropped_ms = 0.0
        self.digits: list[str] = []
        self.drained = asyncio.Event()
        self.drained.set()


class Bridge:
    def __init__(self, caller: Call, agent: Call, *, joined: bool = False, hangup_together: bool = True,
                 on_frame: Callable[[str, bytes], None] | None = None,
                 on_dtmf: Callable[[str, str], None] | None = None, relay_dtmf: bool = True,
                 max_queue_ms: float = 60.0, labels: tuple[str, str] = ("caller", "agent")) -> None:
        self._sides = [_Side(labels[0], caller), _Side(labels[1], agent)]
        self.joined = joined
        self.hangup_together = hangup_together
        self.on_frame = on_frame
        self.on_dtmf = on_dtmf
        self.relay_dtmf = relay_dtmf
        self.max_queue_ms = max_queue_ms
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self._tasks: list[asyncio.Task] = []

    # ---- lifecycle --------------------------------------------------------------------------------
    def start(self) -> "Bridge":
        if not self._tasks:
            loop = asyncio.get_running_loop()
            for i, side in enumerate(self._sides):
                other = self._sides[1 - i]
                self._tasks.append(loop.create_task(self._pump(side, other)))
                if self.relay_dtmf:
                    self._tasks.append(loop.create_task(self._pump_dtmf(side, other)))
        return self

    async def stop(self) -> None:
        """Stop relaying; both calls stay up (the application reads them itself again)."""
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        if not self.ended.is_set():
            self.end_reason = self.end_reason or "stopped"
            self.ended.set()

    async def __aenter__(self) -> "Bridge":
        return self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def wait(self) -> str | None:
        await self.ended.wait()
        return self.end_reason

    # ---- control ----------------------------------------------------------------------------------
    def join(self) -> None:
        """Relay both ways (hold audio stops; anything still queued with `play` is mixed in)."""
        self.joined = True

    def split(self) -> None:
        """Stop relaying; each leg hears only what is played to it (or its hold loop)."""
        self.joined = False

    def side(self, leg: Call | str) -> _Side:
        for side in self._sides:
            if side.call is leg or side.label == leg:
                return side
        raise KeyError(leg)

    def play(self, leg: Call | str, pcm8k: bytes) -> None:
        """Queue 8 kHz int16 PCM for one leg only (e.g. whisper the summary to the agent)."""
        side = self.side(leg)
        side.inject += pcm8k[: len(pcm8k) & ~1]
        if side.inject:
            side.drained.clear()

    def clear(self, leg: Call | str) -> None:
        side = self.side(leg)
        side.inject.clear()
        side.drained.set()

    def queued_ms(self, leg: Call | str) -> float:
        return len(self.side(leg).inject) / 16.0

    async def played(self, leg: Call | str) -> None:
        """Wait until everything queued with `play` for this leg has gone to its send queue."""
        await self.side(leg).drained.wait()

    def hold(self, leg: Call | str, pcm8k: bytes | None) -> None:
        """Loop `pcm8k` to this leg while the bridge is split (None: silence)."""
        side = self.side(leg)
        side.hold = (pcm8k or b"")[: len(pcm8k or b"") & ~1]
        side.hold_pos = 0

    def tap(self, leg: Call | str, maxsize: int = 500) -> asyncio.Queue:
        """A queue of every 20 ms frame heard on `leg` (what that party says); oldest dropped when full."""
        q: asyncio.Queue = asyncio.Queue(maxsize)
        self.side(leg).taps.append(q)
        return q

    def stats(self) -> dict[str, dict[str, float]]:
        return {s.label: {"frames_in": s.frames_in, "frames_out": s.frames_out, "dropped_ms": s.dropped_ms,
                          "digits": list(s.digits)} for s in self._sides}

    # ---- the pumps --------------------------------------------------------------------------------
    def _next_for(self, dst: _Side, relayed: bytes) -> bytes | None:
        """What `dst` sends for one frame time: relay (joined) or hold loop, plus its own audio."""
        base: bytes | None = None
        if self.joined:
            base = relayed
        elif dst.hold:
            chunk = bytearray()
            while len(chunk) < FRAME_BYTES:
                take = dst.hold[dst.hold_pos: dst.hold_pos + FRAME_BYTES - len(chunk)]
                chunk += take
                dst.hold_pos = (dst.hold_pos + len(take)) % len(dst.hold)
            base = bytes(chunk)
        if dst.inject:
            own = bytes(dst.inject[:FRAME_BYTES])
            del dst.inject[:FRAME_BYTES]
            if not dst.inject:
                dst.drained.set()
            if len(own) < FRAME_BYTES:
                own += bytes(FRAME_BYTES - len(own))
            base = own if base is None else _mix(base, own)
        return base

    async def _pump(self, src: _Side, dst: _Side) -> None:
        try:
            while True:
                frame = await src.call.read_frame()
                if frame is None:
                    await self._leg_ended(src, dst)
                    return
                src.frames_in += 1
                for q in src.taps:
                    if q.full():
                        q.get_nowait()
                    q.put_nowait(frame)
                if self.on_frame is not None:
                    try:
                        self.on_frame(src.label, frame)
                    except Exception:
                        log.exception("bridge on_frame failed")
                out = self._next_for(dst, frame)
                if out is None or dst.call.ended.is_set():
                    continue
                over = dst.call.playback_queued_ms() + 20 - self.max_queue_ms
                if over > 0:  # never let latency accumulate: drop the oldest queued audio
                    dst.call.clear_playback()
                    dst.dropped_ms += over
                dst.call.play(out)
                dst.frames_out += 1
        except asyncio.CancelledError:
            pass

    async def _pump_dtmf(self, src: _Side, dst: _Side) -> None:
        try:
            while True:
                digit = await src.call.dtmf.get()
                src.digits.append(digit)
                if self.on_dtmf is not None:
                    self.on_dtmf(src.label, digit)
                if self.joined and not dst.call.ended.is_set():
                    dst.call.send_dtmf(digit)
        except asyncio.CancelledError:
            pass

    async def _leg_ended(self, src: _Side, dst: _Side) -> None:
        if self.ended.is_set():
            return
        self.end_reason = f"{src.label}:{src.call.end_reason}"
        self.ended.set()
        for q in src.taps + dst.taps:
            if q.full():
                q.get_nowait()
            q.put_nowait(None)
        if self.hangup_together and not dst.call.ended.is_set():
            await dst.call.hangup()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()


def _mix(a: bytes, b: bytes) -> bytes:
    x = np.frombuffer(a, "<i2").astype(np.int32) + np.frombuffer(b, "<i2").astype(np.int32)
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()
