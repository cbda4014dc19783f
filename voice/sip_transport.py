"""A pipecat transport over this project's SIP/RTP stack: any pipecat pipeline answers phone calls.

    caller RTP (G.711, 8 kHz) → jitter buffer → `input()`: InputAudioRawFrame at the pipeline's rate,
                                                          InputDTMFFrame per key
    `output()`: OutputAudioRawFrame / TTSAudioRawFrame → 8 kHz PCM → RTP paced at 20 ms by telephony

One `SIPTransport` per call, as pipecat's websocket transports are one per connection; the call is
already answered when the transport is made (`run_sip_server` makes them). Only `telephony` and
`voice.audio` are imported, so the transport comes without the rest of the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from pydantic import field_validator
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    EndTaskFrame,
    Frame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from telephony import AdmissionConfig, EndpointConfig, MediaConfig
from voice.audio import TELEPHONE_RATE, Upsampler, resample
from voice.sip_server import MakePipeline, serve_calls

if TYPE_CHECKING:
    from telephony import Call, ReferResult, SipEndpoint

log = logging.getLogger(__name__)

LOOKAHEAD_MS = 60.0  # audio handed to RTP ahead of the wire: what an interruption can still drop
DRAIN_POLL_S = 0.01  # RTP has no "queue empty" event: how often a full queue is looked at


class SIPParams(TransportParams):
    """Transport parameters, with the SIP side's: where to listen, codecs, RTP ports, who may call.

    Audio is on both ways by default; the output rate is the call's (G.711 is 8 kHz); input is
    resampled at the edge to `audio_in_sample_rate` (16 kHz, what Silero and Whisper take).
    """

    audio_in_enabled: bool = True
    audio_out_enabled: bool = True
    audio_in_sample_rate: int | None = 16000
    audio_out_sample_rate: int | None = TELEPHONE_RATE
    audio_out_10ms_chunks: int = 2  # one RTP packet's worth per write
    audio_out_end_silence_secs: int = 0  # the call ends with the BYE, not with silence
    host: str = "127.0.0.1"
    port: int = 5060
    advertise: str | None = None  # the address in Via/Contact/SDP; None: host
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    rtp_ports: tuple[int, int] = (20000, 30000)
    allow: tuple[str, ...] | None = None  # source networks that may call (CIDR); None: any
    max_calls: int = 200
    hangup_grace_s: float = 0.5  # after the last packet, before the BYE: the caller's jitter buffer
    # Audio handed to RTP ahead of the wire (back-pressure); None: all of it at once, for an app
    # that keeps its own account of what plays when (the service: voice.call) and flushes on
    # interruption, and that hands the call over with everything it queued still to play.
    lookahead_ms: float | None = LOOKAHEAD_MS

    @field_validator("audio_out_sample_rate")
    @classmethod
    def _telephone_rate(cls, v: int | None) -> int:
        if v not in (None, TELEPHONE_RATE):
            raise ValueError(f"audio_out_sample_rate must be {TELEPHONE_RATE} (G.711), got {v}")
        return TELEPHONE_RATE

    @field_validator("audio_in_sample_rate")
    @classmethod
    def _in_rate(cls, v: int | None) -> int:
        v = v or 16000
        if v % TELEPHONE_RATE:
            raise ValueError(f"audio_in_sample_rate must be a multiple of {TELEPHONE_RATE}, got {v}")
        return v

    def endpoint_config(self) -> EndpointConfig:
        """The telephony endpoint's configuration (validated there: a bad value is a ValueError)."""
        return EndpointConfig(
            host=self.host, port=self.port, advertise=self.advertise,
            media=MediaConfig(rtp_ports=tuple(self.rtp_ports), codecs=tuple(self.codecs)),
            admission=AdmissionConfig(max_calls=self.max_calls,
                                      allow=tuple(self.allow) if self.allow is not None else None),
        )


def keypad_entry(digit: str) -> KeypadEntry | None:
    """Pure: the pipecat key for an RFC 4733 / SIP INFO digit; None for one pipecat has no key for."""
    try:
        return KeypadEntry(digit)
    except ValueError:
        return None


class SIPInputTransport(BaseInputTransport):
    """Reads the call's audio and keys into the pipeline; ends the pipeline when the call ends.

    Without a call (`call=None`) it is fed from upstream instead: InputAudioRawFrames queued into
    the pipeline go through it as captured audio would (how the simulator feeds it from a file).
    """

    _params: SIPParams

    def __init__(self, transport: "SIPTransport", params: SIPParams, **kwargs):
        super().__init__(params, **kwargs)
        self._transport = transport
        self._tasks: list[asyncio.Task] = []
        self._upsampler: Upsampler | None = None

    async def start(self, frame: StartFrame):
        await super().start(frame)
        rate = self.sample_rate
        self._upsampler = Upsampler(TELEPHONE_RATE, rate) if rate != TELEPHONE_RATE else None
        await self.set_transport_ready(frame)
        call = self._transport.call
        if call is not None and not self._tasks:
            self._tasks = [self.create_task(self._read_audio(call)), self.create_task(self._read_keys(call))]
            await self._transport._call_event("on_call_started", call)

    async def stop(self, frame: EndFrame):
        await self._stop_reading()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame):
        await self._stop_reading()
        await super().cancel(frame)

    async def _stop_reading(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            if task is not asyncio.current_task():
                await self.cancel_task(task)

    def to_pipeline(self, pcm8k: bytes) -> list[bytes]:
        """One 20 ms telephone frame as the pipeline's frames (resampled at this edge)."""
        if self._upsampler is None:
            return [pcm8k]
        return [f.astype(np.int16).tobytes() for f in self._upsampler.push(np.frombuffer(pcm8k, dtype=np.int16))]

    async def _read_audio(self, call: "Call") -> None:
        rate = self.sample_rate
        reason = None
        try:
            while True:
                pcm = await call.read_frame()
                if pcm is None:
                    break
                for chunk in self.to_pipeline(pcm):
                    frame = InputAudioRawFrame(audio=chunk, sample_rate=rate, num_channels=1)
                    if self._transport.on_audio is not None:
                        self._transport.on_audio(frame)
                    await self.push_audio_frame(frame)
        except Exception:
            # A call whose audio can no longer be read must end, not leave the pipeline waiting
            # for frames that will never come.
            log.exception("reading the call's audio failed: ending the call")
            reason = "error"
        # The caller is gone: tell the app, then end the pipeline the pipecat way (from upstream).
        await self._transport._call_event("on_call_ended", call, reason or call.end_reason or "ended")
        await self.push_frame(EndTaskFrame(), FrameDirection.UPSTREAM)

    async def _read_keys(self, call: "Call") -> None:
        while True:
            digit = await call.dtmf.get()
            key = keypad_entry(digit)
            if key is None:
                log.info("ignoring DTMF %r: not a pipecat keypad entry", digit)
                call.dtmf.task_done()
                continue
            await self.push_frame(InputDTMFFrame(button=key))
            call.dtmf.task_done()  # the key is in the pipeline: a caller on a simulated clock may go on
            await self._transport._call_event("on_dtmf", key.value)


class SIPOutputTransport(BaseOutputTransport):
    """Plays the pipeline's audio into RTP; an interruption drops what is queued; EndFrame hangs up."""

    _params: SIPParams

    def __init__(self, transport: "SIPTransport", params: SIPParams, **kwargs):
        super().__init__(params, **kwargs)
        self._transport = transport

    async def start(self, frame: StartFrame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        call = self._transport.call
        if call is None or call.ended.is_set():
            return False
        audio = frame.audio
        if frame.sample_rate != TELEPHONE_RATE:  # the sender resamples; this is for direct writes
            audio = resample(np.frombuffer(audio, dtype=np.int16), frame.sample_rate, TELEPHONE_RATE).tobytes()
        call.play(audio)
        # Back-pressure: stay lookahead_ms ahead of the wire, so pipecat's own clock (bot speaking,
        # interruptions) tracks what the caller hears and an interruption has little left to drop.
        lookahead = self._params.lookahead_ms
        while lookahead is not None and call.playback_queued_ms() > lookahead and not call.ended.is_set():
            await asyncio.sleep(DRAIN_POLL_S)
        return True

    async def stop(self, frame: EndFrame):
        # Before the EndFrame goes on: once it reaches the pipeline's end the worker is gone.
        await super().stop(frame)
        await self._transport.hangup(drain=True)

    async def cancel(self, frame: CancelFrame):
        await super().cancel(frame)
        await self._transport.hangup(drain=False)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame) and self._transport.call is not None:
            self._transport.call.clear_playback()


class SIPTransport(BaseTransport):
    """`SIPTransport(call, params, endpoint=...)`: one answered call as a pipecat transport.

    Events (`@transport.event_handler(name)`): `on_call_started(transport, call)`,
    `on_call_ended(transport, call, reason)`, `on_dtmf(transport, digit)`.
    `on_audio(frame)`, when given, sees each caller frame before it goes down the pipeline (in
    order, synchronously: the service stamps its media time there and moves its clock).
    """

    def __init__(self, call: "Call | None", params: SIPParams | None = None, *,
                 endpoint: "SipEndpoint | None" = None,
                 on_audio: Callable[[InputAudioRawFrame], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.call = call
        self.endpoint = endpoint
        self.on_audio = on_audio
        self._params = params or SIPParams()
        self._input: SIPInputTransport | None = None
        self._output: SIPOutputTransport | None = None
        self._ended_fired = False
        for name in ("on_call_started", "on_call_ended", "on_dtmf"):
            self._register_event_handler(name)

    def input(self) -> SIPInputTransport:
        if self._input is None:
            self._input = SIPInputTransport(self, self._params, name=self._input_name)
        return self._input

    def output(self) -> SIPOutputTransport:
        if self._output is None:
            self._output = SIPOutputTransport(self, self._params, name=self._output_name)
        return self._output

    async def _call_event(self, name: str, *args) -> None:
        if name == "on_call_ended":
            if self._ended_fired:
                return
            self._ended_fired = True
        await self._call_event_handler(name, *args)

    async def release(self) -> "Call | None":
        """Hand the call over (a transfer takes it): stop reading it, write nothing more to it, and
        let the pipeline end without hanging up. What was queued to play still plays."""
        call, self.call = self.call, None
        if self._input is not None:
            await self._input._stop_reading()
        return call

    async def hangup(self, drain: bool = True) -> None:
        """BYE the caller; with `drain`, once the queued audio has gone out (and a grace after)."""
        call = self.call
        if call is None or call.ended.is_set():
            return
        if drain:
            # RTP drains in real time: never wait much longer than what is queued now.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + call.playback_queued_ms() / 1000 + 0.2
            while call.playback_queued_ms() > 0 and not call.ended.is_set() and loop.time() < deadline:
                await asyncio.sleep(DRAIN_POLL_S)
            try:
                await asyncio.wait_for(call.ended.wait(), timeout=self._params.hangup_grace_s)
            except asyncio.TimeoutError:
                pass
        await call.hangup()
        await self._call_event("on_call_ended", call, call.end_reason or "local_bye")

    async def transfer_blind(self, uri: str, timeout: float = 30.0) -> "ReferResult":
        """REFER the caller to `uri` (RFC 3515); on success our leg is hung up."""
        if self.call is None:
            raise RuntimeError("no call to transfer")
        return await self.call.refer(uri, timeout=timeout)

    async def transfer_attended(self, uri: str, timeout: float = 30.0) -> "ReferResult":
        """Call `uri` first, then REFER the caller to that call with Replaces (RFC 5589)."""
        if self.call is None or self.endpoint is None:
            raise RuntimeError("an attended transfer needs the call and its endpoint")
        consult = await self.endpoint.invite(uri, ring_timeout=timeout)
        try:
            return await self.call.refer(consult, timeout=timeout)
        finally:
            if not consult.ended.is_set() and self.call is not None and not self.call.ended.is_set():
                await consult.hangup()  # the transfer failed: the agent is not left on a dead line


async def run_sip_server(make_pipeline: MakePipeline, sip: str | None = None, params: SIPParams | None = None,
                         *, ready: Callable[["SipEndpoint"], None] | None = None) -> None:
    """Answer calls on `sip` ("HOST:PORT") until cancelled, one `SIPTransport` and one pipeline
    (`make_pipeline(transport, call)`, plain or async) per call; see `voice.sip_server`."""
    params = params or SIPParams()
    await serve_calls(make_pipeline, lambda call, endpoint: SIPTransport(call, params, endpoint=endpoint),
                      params, sip, ready=ready)


__all__ = ["SIPInputTransport", "SIPOutputTransport", "SIPParams", "SIPTransport", "keypad_entry", "run_sip_server"]
