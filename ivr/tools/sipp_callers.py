"""Light callers for `ivr bench capacity`: sipp placing calls that play a pcap of caller speech.

A Python user agent per call costs the box about as much CPU as the service's own work for the
call, so on 2 cores the callers capped the measurement, not the service. sipp (C++) replays RTP
from a pcap at its recorded timing for next to nothing, so the service gets the CPU. The pcap
is written here (pure: `pcap_bytes`) from the bench's synthesized lines, as a continuous 20 ms
G.711 µ-law stream: a wait for the greeting, then each line followed by time for the reply.
"""

from __future__ import annotations

import csv
import signal
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME = 160  # samples per 20 ms at 8 kHz
GREETING_WAIT_S = 6.0  # the greeting plays before the caller speaks
REPLY_WAIT_S = 6.0  # after each line: the bot's reply, then the caller's pause


def rtp_stream(pcm8k: np.ndarray, ssrc: int = 0x1BADCAFE) -> list[bytes]:
    """Pure: RTP packets (PCMU, payload type 0) of 20 ms each, sequence and timestamp running."""
    from telephony import g711

    pad = (-len(pcm8k)) % FRAME
    x = np.concatenate([pcm8k.astype(np.int16), np.zeros(pad, dtype=np.int16)]).reshape(-1, FRAME)
    out = []
    for i, frame in enumerate(x):
        header = struct.pack("!BBHII", 0x80, 0, i & 0xFFFF, (i * FRAME) & 0xFFFFFFFF, ssrc)
        out.append(header + g711.ulaw_encode(frame))
    return out


def _ipv4_udp(payload: bytes, sport: int = 6000, dport: int = 6002) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
    words = struct.unpack("!10H", ip)
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    ip = ip[:10] + struct.pack("!H", ~total & 0xFFFF) + ip[12:]
    return ip + udp


def pcap_bytes(packets: list[bytes], interval_s: float = 0.02) -> bytes:
    """Pure: a libpcap file (Ethernet link type) of UDP datagrams `interval_s` apart; sipp
    rewrites the addresses and ports and keeps the timing."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, rtp in enumerate(packets):
        frame = b"\x00" * 12 + b"\x08\x00" + _ipv4_udp(rtp)
        us = int(round(i * interval_s * 1e6))
        out.append(struct.pack("<IIII", us // 1_000_000, us % 1_000_000, len(frame), len(frame)) + frame)
    return b"".join(out)


def caller_audio(lines: list[np.ndarray], greeting_wait_s: float = GREETING_WAIT_S,
                 reply_wait_s: float = REPLY_WAIT_S) -> np.ndarray:
    """Pure: what one sipp caller says, with the silences between (8 kHz int16)."""
    parts = [np.zeros(int(greeting_wait_s * 8000), dtype=np.int16)]
    for pcm in lines:
        parts += [pcm.astype(np.int16), np.zeros(int(reply_wait_s * 8000), dtype=np.int16)]
    return np.concatenate(parts)


SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="ivr bench capacity caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:support@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:support@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:support@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <pause milliseconds="{duration_ms}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:support@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


@dataclass(frozen=True)
class SippResult:
    calls_completed: int
    calls_failed: int
    cpu_seconds: float  # sipp's own CPU: what the light callers cost the box
    returncode: int
    peak_concurrent: int = 0  # sipp's calls in progress at once, most and mean over its 1 s stat rows
    mean_concurrent: float = 0.0


def write_caller(folder: Path, lines: list[np.ndarray]) -> tuple[Path, float]:
    """The pcap and the scenario that plays it; returns the scenario and one call's length (s)."""
    audio = caller_audio(lines)
    pcap = folder / "caller.pcap"
    pcap.write_bytes(pcap_bytes(rtp_stream(audio)))
    seconds = len(audio) / 8000
    scenario = folder / "caller.xml"
    scenario.write_text(SCENARIO.format(pcap=pcap, duration_ms=int(seconds * 1000) + 200))
    return scenario, seconds


def call_period_s(calls: int, call_seconds: float, stagger_s: float) -> float:
    """Pure: seconds between sipp's call starts so that `calls` of `call_seconds` stay up at once."""
    return min(stagger_s, 0.9 * call_seconds / max(calls, 1))


def call_budget(calls: int, hold_s: float, call_seconds: float) -> int:
    """Pure: the most calls sipp may place in a level (its `-m`): twice what `calls` at once for
    `hold_s` take when every call works. sipp keeps its rate owed: with calls refused at once
    (an overloaded service's 503s) it placed the calls owed as fast as it could, 93,000-219,000
    attempts in a 2-minute level, which kept the service busy refusing instead of recovering."""
    per_slot = 1 + (hold_s + call_seconds) / max(call_seconds, 1e-3)
    return int(2 * calls * per_slot) + 10


class SippCallers:
    """`calls` concurrent sipp calls to the service, a new one starting as one ends, for as long
    as it runs; `stop()` lets the calls in flight finish (SIGUSR1: sipp's soft quit)."""

    def __init__(self, scenario: Path, sip_port: int, calls: int, folder: Path, call_seconds: float,
                 stagger_s: float = 1.13, max_calls: int | None = None):
        from ivr.tools.harness import free_port

        self.call_seconds = call_seconds
        self.stats_file = folder / f"sipp-{calls}.csv"
        # One call every `period`: the stagger, or faster where a level needs it. A call lasts
        # `call_seconds`, so sipp can keep at most call_seconds / period calls going; at the 1.13 s
        # stagger alone that was 27 for the ~31 s call, whatever `-l` said (levels above it ran
        # ~27 sipp calls). Faster than calls / call_seconds spreads the first calls over a call's
        # length and replaces each ended call at once.
        period_ms = int(call_period_s(calls, call_seconds, stagger_s) * 1000)
        self.cmd = ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(scenario), "-i", "127.0.0.1", "-mi", "127.0.0.1",
                    "-p", str(free_port()), "-mp", str(free_port()), "-l", str(calls), "-r", "1", "-rp", str(period_ms),
                    "-nostdin", "-trace_stat", "-stf", str(self.stats_file), "-fd", "1",
                    "-recv_timeout", "20000", *(["-m", str(max_calls)] if max_calls else [])]
        self.proc: subprocess.Popen | None = None
        self._cpu0 = 0.0

    def start(self) -> "SippCallers":
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        return self

    def cpu_seconds(self) -> float:
        """sipp's user + system CPU so far, from /proc (its last reading once it has exited)."""
        import os

        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            return self._cpu0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, drain_s: float) -> SippResult:
        """Stop placing calls; wait up to `drain_s` for those in flight; read sipp's counters."""
        assert self.proc is not None
        self._cpu0 = self.cpu_seconds()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)
        try:
            self.proc.wait(timeout=drain_s)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        ok, failed = read_counts(self.stats_file)
        peak, mean = read_concurrency(self.stats_file)
        return SippResult(ok, failed, round(self._cpu0, 2), self.proc.returncode, peak, mean)


def _stat_rows(stats_csv: Path) -> list[dict[str, str]]:
    """sipp's -trace_stat rows (one a second, `;`-separated); none where it wrote no file."""
    if not stats_csv.is_file():
        return []
    return list(csv.DictReader(stats_csv.read_text().splitlines(), delimiter=";"))


def read_counts(stats_csv: Path) -> tuple[int, int]:
    """sipp's cumulative successful and failed calls from the last row of its -trace_stat file."""
    rows = _stat_rows(stats_csv)
    if not rows:
        return 0, 0
    last = rows[-1]
    return int(last.get("SuccessfulCall(C)") or 0), int(last.get("FailedCall(C)") or 0)


def read_concurrency(stats_csv: Path) -> tuple[int, float]:
    """sipp's most and mean calls in progress (`CurrentCall`) over its stat rows."""
    current = [int(r.get("CurrentCall") or 0) for r in _stat_rows(stats_csv)]
    return (max(current), round(sum(current) / len(current), 1)) if current else (0, 0.0)
