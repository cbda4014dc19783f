"""examples/pipecat_echo_bot.py as a process, called by sipp playing speech over real SIP and RTP.

The bot's RTP is taken off the loopback interface (an AF_PACKET socket: sipp keeps the media port
it plays from, so nothing else can bind it), then checked: paced at 20 ms, in one continuous
stream, and saying the greeting and the caller's words back. sipp's BYE must get its 200.
"""

import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ivr.tools.sipp_callers import write_caller
from telephony import g711
from tests.support import free_port
from voice.audio import resample
from voice.wer import normalise

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipecat_echo_bot.py"
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # loopback shows each packet twice: as sent and as received; keep one


class LoopbackTap:
    """Every UDP datagram to `dport` on lo, with its arrival time (bounded by `stop()`)."""

    def __init__(self, dport: int):
        self.dport = dport
        self.packets: list[tuple[float, bytes]] = []
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(ETH_P_ALL))
        self._sock.bind(("lo", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.2)
            if not ready:
                continue
            data, addr = self._sock.recvfrom(65535)
            t = time.monotonic()
            if addr[2] == PACKET_OUTGOING or len(data) < 42 or data[12:14] != b"\x08\x00":
                continue
            ip = data[14:]
            ihl = (ip[0] & 0x0F) * 4
            if ip[9] != 17:
                continue
            sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
            if dport == self.dport:
                self.packets.append((t, ip[ihl + 8:]))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def wait_ready(proc: subprocess.Popen, timeout: float) -> str:
    """The example's "ready PORT" line (or its output if it died first)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("ready"):
                return line
        if proc.poll() is not None:
            break
    raise AssertionError("the example did not come up: " + "".join(seen)[-3000:])


def test_the_pipecat_echo_bot_answers_sipp_paces_rtp_at_20ms_and_the_bye_is_clean(models, tmp_path):
    said = "I would like to check the status of my order."
    speech = models.synthesize_all(said, 8000)
    scenario, seconds = write_caller(tmp_path, [speech])
    sip_port, media_port = free_port(), free_port() & ~1
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    bot = subprocess.Popen([sys.executable, str(EXAMPLE), "--sip", f"127.0.0.1:{sip_port}"], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tap = None
    try:
        wait_ready(bot, timeout=120)
        tap = LoopbackTap(media_port)
        sipp = subprocess.run(
            ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(scenario), "-m", "1", "-i", "127.0.0.1", "-mi", "127.0.0.1",
             "-mp", str(media_port), "-p", str(free_port()), "-timeout", f"{int(seconds) + 60}s", "-timeout_error",
             "-nostdin", "-nd", "-trace_err"],
            cwd=tmp_path, capture_output=True, text=True, timeout=seconds + 90)
        tap.stop()
        errors = "".join(p.read_text(errors="replace") for p in tmp_path.glob("*errors.log"))
        # The scenario ends with sipp's BYE and requires its 200 OK: exit 0 is a clean hang-up.
        assert sipp.returncode == 0, sipp.stdout[-2000:] + sipp.stderr[-2000:] + errors
        assert bot.poll() is None, "the bot process died during the call"
    finally:
        if tap is not None:
            tap.stop()
        bot.terminate()
        try:
            out, _ = bot.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            bot.kill()
            out, _ = bot.communicate()

    rtp = [(t, p) for t, p in tap.packets if len(p) >= 12 and p[0] >> 6 == 2]
    assert len(rtp) > 5 * 50, f"{len(rtp)} RTP packets from the bot"
    payload_types = {p[1] & 0x7F for _, p in rtp}
    assert payload_types <= {0, 101}, payload_types
    audio = [(t, p) for t, p in rtp if p[1] & 0x7F == 0]
    seqs = np.array([struct.unpack("!H", p[2:4])[0] for _, p in audio])
    stamps = np.array([struct.unpack("!I", p[4:8])[0] for _, p in audio], dtype=np.int64)
    assert all(len(p) == 12 + 160 for _, p in audio), "every packet carries 20 ms (160 samples)"
    assert np.all(np.diff(seqs) % 65536 == 1), "one continuous stream, no gap in sequence numbers"
    steps = np.diff(stamps)
    assert np.all(steps % 160 == 0), "RTP timestamps move in whole 20 ms frames"
    # The example loads Whisper and Piper when the call comes in (stock pipecat services, made per
    # pipeline): the first packet may go out before that, the stream resuming after it with the
    # timestamp showing the time that passed. Anything else is a stall.
    jumps = np.flatnonzero(steps != 160)
    assert len(jumps) <= 1 and (not len(jumps) or jumps[0] == 0), steps[jumps]
    audio = audio[1:] if len(jumps) else audio
    arrivals = np.array([t for t, _ in audio])
    gaps_ms = np.diff(arrivals) * 1000
    mean_ms = (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1) * 1000
    # Paced, not bursted: the stream's rate is 50 packets a second and the typical gap is 20 ms.
    assert 19.0 < mean_ms < 21.0, mean_ms
    p50, p95 = np.percentile(gaps_ms, [50, 95])
    print(f"bot RTP: {len(audio)} packets, mean {mean_ms:.2f} ms apart, gap p50 {p50:.1f} ms p95 {p95:.1f} ms")
    assert 15.0 < p50 < 25.0, (p50, p95)

    pcm = np.concatenate([g711.ulaw_decode(p[12:]) for _, p in audio]).astype(np.int16)
    heard = " ".join(normalise(models.transcribe_sync(resample(pcm, 8000, 16000)).text))
    assert "say something" in heard, heard  # the greeting, queued from on_call_started
    assert "you said" in heard and "order" in heard, heard  # Whisper heard the caller; Piper said it back
