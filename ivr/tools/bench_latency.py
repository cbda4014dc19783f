"""`ivr bench latency`: voice-to-voice latency at the wire, ours against pipecat's stock pipeline.

N calls to `ivr serve` over real SIP/RTP from the project's own user agent, each a scripted
caller saying a few lines (synthesized support-line requests and, when `fetch_eval_data.sh asr`
has run, real recorded speech); and the same lines, in the same run, alternating call by call,
to pipecat 1.14's stock pipeline behind its websocket transport (``ivr.tools.bench_baseline``),
and with ``--baseline pipecat-smart-turn`` also to pipecat's best local configuration (Smart Turn
v3 beside Silero VAD) in the same rotation, so both ratios come from the same audio and load.

Voice-to-voice is measured on the caller's side of the wire, from packet clock times:
  end of the caller's speech = when the packet carrying the line's last voiced sample was sent
  bot's answer              = when the first non-silent packet of the reply arrived
(the service sends digital silence between replies; the websocket bot sends nothing). A reply
already playing when the caller stopped, or starting within 150 ms of it (an answer to something
said before), is counted apart as a cut-in, not as a latency. The
per-stage figures come from the service's own trace (the "stages" call events).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ivr.tools.machine import describe, load

FRAME = 160  # samples per 20 ms packet at 8 kHz
REPLY_TIMEOUT_S = 8.0  # no reply within this after the caller stopped: a missed turn
QUIET_S = 0.8  # the bot's reply is over after this much silence
# No pipeline answers this soon after speech ends (end of turn alone takes longer): audio that
# early answers something said before, so it counts as a cut-in, not as a latency.
EARLY_S = 0.15
ROOT = Path(__file__).resolve().parents[2]

# In-domain requests for the triage bot; none asks for a person or says goodbye (those end the
# bot's part of the call), so every call keeps its turns.
SUPPORT_LINES = [
    "Hi, I need to check on an order I placed last week.",
    "I can't log in to my account, it keeps saying my password is wrong.",
    "What time do you open on Saturday?",
    "My internet has been down since this morning.",
    "I think I was charged twice this month.",
    "Can you tell me when my parcel will arrive?",
    "I'd like to change the address on my account.",
    "The order number is four five six seven eight.",
    "Yes, please send me a reset link.",
    "I already restarted the router twice.",
]
LENGTH_SCALES = [1.0, 1.15, 0.9]  # speaking rates: the one Piper voice, slower and faster


@dataclass
class Line:
    text: str
    source: str
    pcm8k: np.ndarray = field(repr=False)  # after the G.711 round trip: what goes on the wire
    voiced_end: int = 0  # index of the sample just after the last voiced one

    @property
    def speech_s(self) -> float:
        return self.voiced_end / 8000


def speech_end(pcm8k: np.ndarray, rate: int = 8000, floor_db: float = -55.0, below_peak_db: float = 35.0) -> int:
    """Sample index just after the last 10 ms frame whose level is near the recording's speech.

    Relative to the loudest frame, so a recording's own background hiss is not speech."""
    n = rate // 100
    frames = len(pcm8k) // n
    if frames == 0:
        return 0
    x = pcm8k[: frames * n].astype(np.float64).reshape(frames, n)
    db = 20 * np.log10(np.maximum(np.sqrt((x**2).mean(axis=1)), 1e-9) / 32768)
    thr = max(floor_db, db.max() - below_peak_db)
    loud = np.flatnonzero(db > thr)
    return int((loud[-1] + 1) * n) if len(loud) else 0


def synth_lines(models, count: int = len(SUPPORT_LINES)) -> list[Line]:
    """`count` renderings of SUPPORT_LINES, in turn. Piper varies every rendering (its noise
    scales), so a line said in two calls is two samples, not the same audio counted twice."""
    from piper import SynthesisConfig

    from voice.audio import Audio, telephone_band

    voice = models.voice
    out = []
    for i in range(count):
        text = SUPPORT_LINES[i % len(SUPPORT_LINES)]
        scale = LENGTH_SCALES[i % len(LENGTH_SCALES)]
        cfg = SynthesisConfig(length_scale=scale)
        pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in voice.synthesize(text, cfg)])
        pad = np.zeros(int(0.3 * models.tts_rate), dtype=np.int16)
        narrow = telephone_band(Audio(np.concatenate([pad, pcm, pad]), models.tts_rate))
        out.append(Line(text, f"piper joe-medium, length_scale {scale}", narrow, speech_end(narrow)))
    return out


def real_lines(cache: Path, max_s: float = 6.0) -> list[Line]:
    """Recorded speech from the ASR eval set (whole files only: no cut mid-conversation)."""
    from voice.audio import read_wav, telephone_band

    listing = cache / "asr" / "clips.json"
    if not listing.is_file():
        return []
    out = []
    for c in json.loads(listing.read_text()):
        if "start" in c:
            continue
        narrow = telephone_band(read_wav(c["path"]))
        end = speech_end(narrow)
        if 0 < end / 8000 <= max_s:
            out.append(Line(c["text"], c["id"], narrow[: end + 4000], end))  # keep 0.5 s of its tail
    return out


def recorded_turn(turn: int, have_recorded: bool) -> bool:
    """Which turns of a call say a recorded line: every second one, when there are any."""
    return have_recorded and turn % 2 == 1


def call_scripts(synth: list[Line], real: list[Line], calls: int, turns: int) -> list[list[Line]]:
    """Per call, `turns` lines: support requests, with a recorded voice in the middle when there is one."""
    scripts, si, ri = [], 0, 0
    for _ in range(calls):
        lines = []
        for t in range(turns):
            if recorded_turn(t, bool(real)):
                lines.append(real[ri % len(real)])
                ri += 1
            else:
                lines.append(synth[si % len(synth)])
                si += 1
        scripts.append(lines)
    return scripts


# ------------------------------------------------------------------------------- measuring


@dataclass
class TurnResult:
    system: str
    call: int
    turn: int
    line: str
    source: str
    voice_to_voice_ms: float | None  # None: no reply within REPLY_TIMEOUT_S
    cut_in: bool  # the bot was already talking when the caller stopped
    end_at: float | None = None  # host monotonic clock: the caller's last voiced packet sent
    reply_at: float | None = None  # ...and the first packet of the reply received


def first_after(times: list[float], t: float) -> float | None:
    """The first time in a sorted list strictly after t."""
    import bisect

    i = bisect.bisect_right(times, t)
    return times[i] if i < len(times) else None


def any_between(times: list[float], t0: float, t1: float) -> bool:
    import bisect

    i = bisect.bisect_right(times, t0)
    return i < len(times) and times[i] < t1


class Leg:
    """One caller's side of a call: sends paced 20 ms packets, notes when bot audio arrives."""

    def __init__(self):
        self.voiced_rx: list[float] = []  # arrival clock times of non-silent bot packets
        self.tx: list[float] = []  # send clock times of the caller's packets, in order
        self._changed = asyncio.Event()

    def note_rx(self, t: float, voiced: bool) -> None:
        if voiced:
            self.voiced_rx.append(t)
            self._changed.set()

    def note_tx(self, t: float) -> None:
        self.tx.append(t)
        self._changed.set()

    async def _wait(self, pred, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 0.1))
            except asyncio.TimeoutError:
                pass
        return True

    async def wait_quiet(self, since: float, quiet: float = QUIET_S, timeout: float = 30.0) -> bool:
        """Bot audio has started after `since`... and then stopped for `quiet` seconds."""
        if not await self._wait(lambda: first_after(self.voiced_rx, since) is not None, timeout):
            return False
        return await self._wait(lambda: time.monotonic() - self.voiced_rx[-1] >= quiet, timeout)

    def queue(self, pcm8k: np.ndarray) -> int:
        """Queue audio to send; returns the index (in self.tx) its first packet will get."""
        raise NotImplementedError

    async def say(self, line: Line) -> float:
        """Send the line; returns the send time of the packet carrying its last voiced sample."""
        first = self.queue(line.pcm8k)
        idx = first + max(0, line.voiced_end - 1) // FRAME
        if not await self._wait(lambda: len(self.tx) > idx, line.pcm8k.size / 8000 + 10):
            raise RuntimeError(f"caller audio was not sent: packet {idx} awaited, {len(self.tx)} sent, {first=}")
        return self.tx[idx]


async def converse(leg: Leg, lines: list[Line], system: str, call: int, think=None) -> list[TurnResult]:
    """The scripted caller: waits out the greeting, says each line after the bot's reply ends
    (and, with `think`, a further `think()` seconds, as callers do not all answer at once)."""
    out = []
    if not await leg.wait_quiet(0.0, timeout=60.0):
        raise RuntimeError(f"{system}: no greeting")
    for i, line in enumerate(lines):
        if think is not None:
            await asyncio.sleep(think())
        started = time.monotonic()
        end = await leg.say(line)
        ok = await leg._wait(lambda: first_after(leg.voiced_rx, end) is not None or time.monotonic() > end + REPLY_TIMEOUT_S,
                             REPLY_TIMEOUT_S + 1)
        first = first_after(leg.voiced_rx, end) if ok else None
        cut_in = any_between(leg.voiced_rx, started, end) or (first is not None and first - end < EARLY_S)
        v2v = None if first is None or first - end > REPLY_TIMEOUT_S else round((first - end) * 1000, 1)
        out.append(TurnResult(system, call, i, line.text, line.source, v2v, cut_in, round(end, 4),
                              round(first, 4) if first is not None else None))
        await leg.wait_quiet(end, timeout=30.0)
    return out


class RtpLeg(Leg):
    """Our SIP user agent; packets are timed by a tap on its RTP session (before any jitter buffer)."""

    def __init__(self, call):
        super().__init__()
        from telephony import g711

        self.call = call
        decode = g711.alaw_decode if call.codec.upper().startswith("PCMA") else g711.ulaw_decode
        dtmf_pt = call.media.params.dtmf_pt if call.media.params else None

        def tap(direction: str, pkt, t: float) -> None:
            if pkt.payload_type == dtmf_pt:
                return
            if direction == "tx":
                self.note_tx(t)
            else:
                self.note_rx(t, bool(np.any(decode(pkt.payload))))

        call.media.on_packet = tap
        self._drain = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while await self.call.read_frame() is not None:
            pass

    def queue(self, pcm8k: np.ndarray) -> int:
        # Playback is empty (the caller speaks after the bot's reply): the next packet carries sample 0.
        first = len(self.tx) + int(self.call.playback_queued_ms() // 20)
        self.call.play(pcm8k.astype(np.int16).tobytes())
        return first

    async def close(self) -> None:
        await self.call.hangup()
        self._drain.cancel()


class WsLeg(Leg):
    """A Twilio Media Streams client: µ-law 20 ms media messages, paced on absolute deadlines."""

    def __init__(self, ws):
        super().__init__()
        self.ws = ws
        self._out: deque[np.ndarray] = deque()
        self._tasks = [asyncio.create_task(self._send()), asyncio.create_task(self._recv())]

    @classmethod
    async def open(cls, url: str, sid: str) -> "WsLeg":
        import websockets

        ws = await websockets.connect(url, max_size=None)
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps({"event": "start", "streamSid": sid,
                                  "start": {"streamSid": sid, "callSid": f"CA{sid}", "accountSid": "AC0",
                                            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}))
        return cls(ws)

    async def _send(self) -> None:
        from telephony import g711

        silence = np.zeros(FRAME, dtype=np.int16)
        t0 = time.monotonic()
        n = 0
        while True:
            n += 1
            delay = t0 + n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pcm = self._out.popleft() if self._out else silence
            payload = base64.b64encode(g711.ulaw_encode(pcm)).decode()
            await self.ws.send(json.dumps({"event": "media", "streamSid": "MZ", "media": {"payload": payload}}))
            self.note_tx(time.monotonic())

    async def _recv(self) -> None:
        from telephony import g711

        async for raw in self.ws:
            t = time.monotonic()
            msg = json.loads(raw)
            if msg.get("event") == "media":
                pcm = g711.ulaw_decode(base64.b64decode(msg["media"]["payload"]))
                self.note_rx(t, bool(np.any(pcm)))

    def queue(self, pcm8k: np.ndarray) -> int:
        first = len(self.tx) + len(self._out)
        pad = (-len(pcm8k)) % FRAME
        x = np.concatenate([pcm8k.astype(np.int16), np.zeros(pad, dtype=np.int16)])
        self._out.extend(x.reshape(-1, FRAME))
        return first

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        await self.ws.close()


# ------------------------------------------------------------------------------- the run


def pcts(xs: list[float]) -> dict:
    if not xs:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    a = np.asarray(xs, dtype=float)
    return {"p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1),
            "p99": round(float(np.percentile(a, 99)), 1), "n": len(xs)}


def summarise(turns: list[TurnResult]) -> dict:
    got = [t.voice_to_voice_ms for t in turns if t.voice_to_voice_ms is not None and not t.cut_in]
    return {"voice_to_voice_ms": pcts(got), "turns": len(turns),
            "missed": sum(t.voice_to_voice_ms is None for t in turns), "cut_in": sum(t.cut_in for t in turns)}


def wire_stages(turns: list[TurnResult], events: list[dict]) -> dict:
    """Each measured turn's wait split at the service's own moments (its `stages` events carry
    them on the host's monotonic clock, which the wire taps share): caller's last packet → its
    last voiced frame looked at (jitter buffer, packet clock, VAD) → end of turn declared →
    first reply audio handed to RTP → first reply packet at the caller. Paired by time, not by
    turn index: the service may split one line into two turns."""
    marks = sorted((e["mono"] for e in events if (e.get("mono") or {}).get("end_seen")), key=lambda m: m["end_seen"])
    parts: dict[str, list[float]] = {"to_service": [], "end_of_turn": [], "reply": [], "to_wire": []}
    for t in turns:
        if t.end_at is None or t.reply_at is None or t.cut_in:
            continue
        m = next((m for m in marks if t.end_at - 0.3 <= m["end_seen"] and m["audio_queued"] <= t.reply_at), None)
        if m is None:
            continue
        steps = (t.end_at, m["end_seen"], m["detected"], m["audio_queued"], t.reply_at)
        for k, a, b in zip(parts, steps, steps[1:]):
            parts[k].append(round((b - a) * 1000, 1))
    return {k: pcts(v) for k, v in parts.items()}


def stage_summary(events: list[dict]) -> dict:
    keys = ("end_of_turn_ms", "asr_ms", "nlu_ms", "tts_first_chunk_ms", "speech_end_to_audio_ms")
    out = {k.removesuffix("_ms"): pcts([e[k] for e in events if e.get(k) is not None]) for k in keys}
    out["asr_speculative_share"] = round(sum(bool(e.get("asr_speculative")) for e in events) / max(len(events), 1), 2)
    fitted = sum(str(e.get("asr_window")).startswith("fitted") for e in events)
    out["asr_fitted_share"] = round(fitted / max(len(events), 1), 2)
    # The price of speculating at a short pause: Whisper runs dropped because the caller went on.
    dropped = [e["asr_dropped"] for e in events if e.get("asr_dropped") is not None]
    out["asr_dropped_per_turn"] = round(sum(dropped) / len(dropped), 2) if dropped else None
    # Turns whose first fitted reading would not do: read again in a longer window, or in the full one.
    why: dict[str, int] = {}
    for e in events:
        if e.get("asr_window") not in (None, "fitted"):
            why[e["asr_window"]] = why.get(e["asr_window"], 0) + 1
    out["asr_reread_why"] = why
    return out


@contextlib.asynccontextmanager
async def rtp_leg(sip: int):
    """A call to the service on loopback port `sip` from our own user agent; hung up on leaving."""
    from telephony import EndpointConfig, SipEndpoint

    ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    await ep.start()
    try:
        leg = RtpLeg(await ep.invite(f"sip:support@127.0.0.1:{sip}", ring_timeout=10))
        try:
            yield leg
        finally:
            await leg.close()
    finally:
        await ep.stop()


async def ours_call(sip: int, api, lines: list[Line], index: int, system: str = "ours") -> tuple[list[TurnResult], list[dict]]:
    async with rtp_leg(sip) as leg:
        results = await converse(leg, lines, system, index)
    return results, await _stages(api, leg.call.call_id)


async def _stages(get, sip_call_id: str) -> list[dict]:
    """The call's stage timings from the store, through the API (``get``: the harness's ``Service.api``)."""

    loop = asyncio.get_running_loop()
    for _ in range(50):  # the store writes in the background: the call shows up within moments
        calls = (await loop.run_in_executor(None, get, "/api/calls?limit=50"))["calls"]
        ids = [c["id"] for c in calls if c.get("sip_call_id") == sip_call_id and c.get("ended_at")]
        if ids:
            evs = (await loop.run_in_executor(None, get, f"/api/calls/{ids[0]}/events"))["events"]
            return [e for e in evs if e.get("event") == "stages"]
        await asyncio.sleep(0.1)
    print(f"bench latency: no stored events for SIP call {sip_call_id} ({[c.get('sip_call_id') for c in calls][:3]})", file=sys.stderr)
    return []


async def baseline_call(port: int, lines: list[Line], index: int, system: str = "baseline") -> list[TurnResult]:
    leg = await WsLeg.open(f"ws://127.0.0.1:{port}/ws", f"MZ{index:04d}")
    try:
        return await converse(leg, lines, system, index)
    finally:
        await leg.close()


def start_baseline(port: int, timeout: float = 120.0, smart_turn: bool = False) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ivr.tools.bench_baseline", "--port", str(port)] + (["--smart-turn"] if smart_turn else [])
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if "baseline: ready" in line:
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            break
    if proc.poll() is not None:
        raise RuntimeError("the baseline server did not start")
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def port_of(proc: subprocess.Popen) -> int:
    return int(proc.args[proc.args.index("--port") + 1])


def ratios(ours: dict, theirs: dict, suffix: str) -> dict:
    """Pure: ours over theirs at p50 and p95 (None where either is missing): the issue's
    targets are p50 ≤ 0.6× pipecat-with-Smart-Turn's and p95 no worse than before."""
    out = {}
    for p in ("p50", "p95"):
        o, b = ours.get(p), theirs.get(p)
        out[f"ratio_{p}_ours_over_{suffix}"] = round(o / b, 3) if o and b else None
    return out


LEGACY_ARGS = ("--pause-ms", "0", "--silence-ms", "500", "--asr-full-window")
LEGACY_NAME = "ivr serve before issue 7: 500 ms end-of-turn silence, no speculative ASR, Whisper 30 s window"


def run(args) -> int:
    import socket

    from ivr.engine import quiet_libraries
    from ivr.tools.polish_corpus import default_cache
    from ivr.tools.harness import free_port, running_service
    from voice.models import ModelConfig, SpeechModels

    quiet_libraries()
    models = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))
    real = [] if args.synthetic_only else real_lines(default_cache())
    synth_turns = args.calls * sum(not recorded_turn(t, bool(real)) for t in range(args.turns))
    synth = synth_lines(models, max(synth_turns, len(SUPPORT_LINES)))
    scripts = call_scripts(synth, real, args.calls, args.turns)
    print(f"bench latency: {args.calls} calls x {args.turns} turns; {len(synth)} synthesized lines, {len(real)} recorded",
          flush=True)
    load_start = load()
    results: dict[str, list[TurnResult]] = {}
    stages: dict[str, list[dict]] = {}
    baseline = None
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp, contextlib.ExitStack() as stack:
        (Path(tmp) / "ours").mkdir()
        systems: dict[str, object] = {"ours": stack.enter_context(running_service(Path(tmp) / "ours", "--bot", args.bot))}
        if args.compare_legacy:
            (Path(tmp) / "legacy").mkdir()
            systems["legacy"] = stack.enter_context(running_service(Path(tmp) / "legacy", "--bot", args.bot, *LEGACY_ARGS))
        if not args.no_baseline:
            baseline = start_baseline(free_port(socket.SOCK_STREAM))
            stack.callback(stop, baseline)
            systems["baseline"] = port_of(baseline)
        if "pipecat-smart-turn" in (getattr(args, "baseline", None) or []):
            smart = start_baseline(free_port(socket.SOCK_STREAM), smart_turn=True)
            stack.callback(stop, smart)
            systems["baseline_smart_turn"] = port_of(smart)
        names = list(systems)
        for i, lines in enumerate(scripts):
            order = names[i % len(names):] + names[: i % len(names)]  # who goes first rotates
            for who in order:
                if who.startswith("baseline"):
                    r = asyncio.run(baseline_call(systems[who], lines, i, who))
                else:
                    svc = systems[who]
                    r, st = asyncio.run(ours_call(svc.sip, svc.api, lines, i, who))
                    stages.setdefault(who, []).extend(st)
                results.setdefault(who, []).extend(r)
            print(f"call {i + 1}/{len(scripts)}: " + "  ".join(
                f"{n} {[t.voice_to_voice_ms for t in results[n][-len(lines):]]}" for n in names), flush=True)
    ours = results["ours"]
    report = {
        "voice_to_voice_ms": summarise(ours)["voice_to_voice_ms"],
        "ours": {"name": f"ivr serve --bot {args.bot} over SIP/RTP", **summarise(ours)},
        "stages_ms": stage_summary(stages.get("ours", [])),
        "wire_stages_ms": wire_stages(ours, stages.get("ours", [])),
        "machine": describe(),
        "load_avg_start": load_start,
        "calls": args.calls,
        "turns_per_call": args.turns,
        "turns": [asdict(t) for n in names for t in results[n]],
        "stages_raw": {n: stages.get(n, []) for n in names if n != "baseline"},
    }
    if "legacy" in results:
        report["legacy"] = {"name": LEGACY_NAME, **summarise(results["legacy"]), "stages_ms": stage_summary(stages["legacy"])}
    from ivr.tools.bench_baseline import NAME, SMART_TURN_NAME

    for key, name, suffix in (("baseline", NAME, "baseline"), ("baseline_smart_turn", SMART_TURN_NAME, "smart_turn")):
        if key in results:
            report[key] = {"name": name, **summarise(results[key])}
            report.update(ratios(report["voice_to_voice_ms"], report[key]["voice_to_voice_ms"], suffix))
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "turns"}, indent=1))
    print(f"wrote {out}")
    return 0
