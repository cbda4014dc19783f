"""The call object the voice pipeline holds: audio in, audio out, DTMF, and the end of the call.

It hides SIP and RTP entirely: `read_frame()` yields 20 ms of 8 kHz int16 PCM (320 bytes) at
the network's pace, `play()` queues PCM for paced sending, and `ended` fires however the call
ends, so the pipeline never outlives its caller (a complaint in every peer framework's tracker).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Awaitable, Callable

from .media import RtpSession

if TYPE_CHECKING:
    from .sip_dialog import Dialog


class Call:
    def __init__(self, call_id: str, remote_uri: str, codec: str, media: RtpSession, dialog: "Dialog",
                 hangup: Callable[["Call"], Awaitable[None]], *, direction: str = "inbound",
                 local_uri: str = "", headers: dict[str, str] | None = None) -> None:
        self.call_id = call_id
        self.remote_uri = remote_uri
        self.local_uri = local_uri
        self.codec = codec
        self.direction = direction
        self.headers = headers or {}  # the INVITE's header fields (first value of each), e.g. X-*
        self.media = media
        self.dialog = dialog
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.on_hold = False
        self._hangup = hangup
        self._eof = False
        self._endpoint = None  # set by the SipEndpoint that made this call (for REFER)
        self.replaced: "Call | None" = None  # an INVITE with Replaces took over that call of ours
        self.transferred_to: "Call | None" = None  # a REFER we obeyed placed this new call

    async def read_frame(self) -> bytes | None:
        """Next 20 ms of caller audio (160 int16 samples, 8 kHz); None once the call has ended."""
        if self._eof:
            return None
        frame = await self.media.frames.get()
        if frame is None:
            self._eof = True
        return frame

    def play(self, pcm8k: bytes) -> None:
        """Queue 8 kHz int16 PCM for sending, any length; it goes out in 20 ms packets."""
        if not self.ended.is_set():
            self.media.play(pcm8k)

    def clear_playback(self) -> None:
        """Drop queued audio (barge-in)."""
        self.media.clear_playback()

    def playback_queued_ms(self) -> float:
        return self.media.playback_queued_ms()

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Send an RFC 4733 key press to the peer (when telephone-event was negotiated)."""
        self.media.send_dtmf(digit, duration_ms)

    async def refer(self, target: "str | Call", *, replaces: "Call | None" = None, timeout: float = 30.0,
                    hangup: bool = True):
        """Transfer the peer with REFER (RFC 3515); returns a `ReferResult` once the NOTIFYs end.

        `await call.refer("sip:agent@10.0.0.5")` is a blind transfer. `await caller.refer(agent_call)`
        is an attended one (RFC 5589): the caller's phone INVITEs the agent with Replaces and the
        agent's phone drops our leg. On success this call is hung up (unless `hangup=False`).
        """
        if self._endpoint is None:
            raise RuntimeError("this call does not belong to a SipEndpoint")
        return await self._endpoint.refer(self, target, replaces=replaces, timeout=timeout, hangup=hangup)

    async def hangup(self) -> None:
        """Send BYE and tear down RTP; returns once the call has ended."""
        if not self.ended.is_set():
            await self._hangup(self)

    def __repr__(self) -> str:
        return f"<Call {self.call_id} {self.remote_uri} {self.codec} ended={self.end_reason}>"
