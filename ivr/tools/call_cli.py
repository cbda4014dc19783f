"""`ivr call`: place a test call to the service (or any SIP URI) and record what the bot says.

A real SIP dialog and RTP stream from the project's own user agent: plays a caller recording
(through 8 kHz G.711, like a phone), optionally presses keys, and writes what came back.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys

import numpy as np


def _parse_dtmf(spec: list[str]) -> list[tuple[float, str]]:
    out = []
    for item in spec:
        m = re.fullmatch(r"([0-9*#A-D])@(\d+(?:\.\d+)?)", item)
        if not m:
            raise ValueError(f"--dtmf {item!r}: expected DIGIT@SECONDS, e.g. 0@12.5")
        out.append((float(m.group(2)), m.group(1)))
    return sorted(out)


async def place_call(uri: str, play: np.ndarray | None, play_at: float, dtmf: list[tuple[float, str]],
                     max_seconds: float, bind: str = "127.0.0.1") -> tuple[np.ndarray, str]:
    from telephony import EndpointConfig, SipEndpoint

    ep = SipEndpoint(EndpointConfig(bind, 0), lambda call: asyncio.sleep(0))
    await ep.start()
    received: list[bytes] = []
    try:
        call = await ep.invite(uri, ring_timeout=30)
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def record():
            while (f := await call.read_frame()) is not None:
                received.append(f)

        async def script():
            if play is not None:
                await asyncio.sleep(play_at)
                call.play(play.astype(np.int16).tobytes())
            for at, digit in dtmf:
                await asyncio.sleep(max(0.0, at - (loop.time() - t0)))
                call.send_dtmf(digit)

        rec = asyncio.create_task(record())
        scr = asyncio.create_task(script())
        try:
            await asyncio.wait_for(call.ended.wait(), timeout=max_seconds)
        except asyncio.TimeoutError:
            await call.hangup()
        scr.cancel()
        await asyncio.wait_for(rec, timeout=5)
        reason = call.end_reason or "ended"
    finally:
        await ep.stop()
    pcm = np.frombuffer(b"".join(received), dtype=np.int16)
    return pcm, reason


def run(args) -> int:
    from voice.audio import AudioError, read_wav, resample, write_wav

    try:
        dtmf = _parse_dtmf(args.dtmf or [])
        play = None
        if args.play:
            a = read_wav(args.play)
            play = resample(a.samples, a.rate, 8000)
    except (ValueError, AudioError) as exc:
        print(f"ivr call: {exc}", file=sys.stderr)
        return 2
    try:
        pcm, reason = asyncio.run(place_call(args.uri, play, args.at, dtmf, args.max_seconds))
    except Exception as exc:  # CallFailed (busy, declined, no answer), unreachable address
        print(f"ivr call: {args.uri}: {exc}", file=sys.stderr)
        return 1
    if args.record:
        write_wav(args.record, pcm, 8000)
    print(json.dumps({"uri": args.uri, "seconds": round(len(pcm) / 8000, 2), "ended": reason, "record": args.record}))
    return 0


def add_arguments(p) -> None:
    p.add_argument("uri", help="who to call, e.g. sip:support@127.0.0.1:5070")
    p.add_argument("--play", help="caller recording to play into the call")
    p.add_argument("--at", type=float, default=7.0, help="seconds after answer to start playing (default 7, after the greeting)")
    p.add_argument("--dtmf", action="append", help="press a key: DIGIT@SECONDS (repeatable)")
    p.add_argument("--record", help="write what the far end said (8 kHz WAV)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="hang up after this long (default 60)")
