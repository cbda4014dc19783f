"""`python ivr/tools/bench_rtp.py`: the Python work per received RTP packet, in µs.

Every caller sends 50 packets a second, so at 40 calls the receive path runs 2,000 times a
second on the event loop that also paces every call's sending. This feeds real RTP datagrams
(G.711 µ-law of recorded speech, 20 ms each, as a phone sends them) to a real `RtpSession`
bound on 127.0.0.1, through the entry point the event loop calls (`datagram_received`), and
times that call alone; the 20 ms pop of the jitter buffer (the clock's tick) runs between
packets, untimed, so the buffer stays at its working depth. Prints p50 / p95 µs a packet and
writes JSON to bench-results/bench_rtp.json.

Run as a script so another checkout's `telephony` can be measured in the same run:
``PYTHONPATH=/work/main python ivr/tools/bench_rtp.py --label before``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[2]


def speech_packets(n: int) -> list[bytes]:
    """`n` RTP datagrams of µ-law speech-like audio (a recorded clip where the eval data is
    fetched, a voiced sweep otherwise), sequence and timestamp stepping as a phone's do."""
    from telephony.g711 import ulaw_encode
    from telephony.rtp import RtpPacket

    pcm = None
    import os

    clip = Path(os.environ.get("IVR_EVAL_CACHE", HERE / "cache" / "eval")) / "asr" / "arctic_a0007.wav"
    if clip.is_file():
        import wave

        with wave.open(str(clip)) as w:
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            pcm = raw[:: max(1, w.getframerate() // 8000)]
    if pcm is None or len(pcm) < 160:
        t = np.arange(8000 * 3) / 8000
        pcm = (np.sin(2 * np.pi * (150 + 50 * np.sin(t)) * t) * 6000).astype(np.int16)
    out = []
    for i in range(n):
        k = (i * 160) % (len(pcm) - 160)
        payload = ulaw_encode(pcm[k : k + 160])
        out.append(RtpPacket(0, (1000 + i) & 0xFFFF, (5000 + 160 * i) & 0xFFFFFFFF, 0x1234ABCD, payload,
                             i == 0).serialize())
    return out


async def measure(packets: list[bytes], rounds: int) -> list[float]:
    from telephony.media import RtpSession, bind_rtp_pair
    from telephony.sdp import MediaParams

    rtp, rtcp, port = await bind_rtp_pair("127.0.0.1", (40000, 40998))
    media = RtpSession(rtp, rtcp, port)
    media.configure(MediaParams([("PCMU", 0), ("PCMA", 8)], 101, ("127.0.0.1", 9), "sendrecv"))
    addr = ("127.0.0.1", 9)
    times: list[float] = []
    try:
        for _ in range(rounds):
            for data in packets:
                t0 = time.perf_counter_ns()
                rtp.datagram_received(data, addr)
                times.append((time.perf_counter_ns() - t0) / 1000)
                media.jb.pop()
            media.jb.reset()
            media.remote_ssrc = None
    finally:
        await media.close()
    if media.packets_received != len(packets) * rounds:
        raise RuntimeError(f"{media.packets_received} of {len(packets) * rounds} packets accepted")
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="µs of Python per received RTP packet")
    p.add_argument("--packets", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--label", default="this checkout")
    p.add_argument("--json", dest="json_out", default=str(HERE / "bench-results" / "bench_rtp.json"))
    a = p.parse_args(argv)
    import os

    import telephony

    times = asyncio.run(measure(speech_packets(a.packets), a.rounds))
    t = np.asarray(times[len(times) // 10 :])  # the first tenth warms the caches
    row = {"label": a.label, "telephony": str(Path(telephony.__file__).parent), "packets": int(len(t)),
           "us_p50": round(float(np.percentile(t, 50)), 2), "us_p95": round(float(np.percentile(t, 95)), 2),
           "us_mean": round(float(t.mean()), 2), "load_avg": list(os.getloadavg()),
           "python": sys.version.split()[0]}
    print(f"{a.label:16s} {row['us_p50']:6.1f} / {row['us_p95']:6.1f} µs a packet p50 / p95 "
          f"(mean {row['us_mean']:.1f}; {len(t)} packets)  load {row['load_avg'][0]:.2f}")
    out = Path(a.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(out.read_text()).get("runs", []) if out.is_file() else []
    out.write_text(json.dumps({"runs": [r for r in runs if r["label"] != a.label] + [row]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    if "PYTHONPATH" not in __import__("os").environ:
        sys.path.insert(0, str(HERE))
    raise SystemExit(main())
