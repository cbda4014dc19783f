"""Transfers and the bridge against real peers on loopback, each started (time-bounded) by its
test and killed by PID in teardown:

* pjsua2-python (pinned test peer) as the caller's softphone and the agent's softphone: warm
  transfer through our bridge (hold audio, whisper, transcoding PCMA↔PCMU, DTMF relay), then
  an attended transfer with REFER/Replaces that leaves the two phones talking directly;
* baresip (headless, aufile source) as a caller that we blind-transfer with REFER;
* sipp `-rtp_echo` as an agent UAS (PCMU only) bridged to a PCMA caller leg.

What is asserted is what crossed the wire: tones in the recordings and the taps, RTP counts
and peers' addresses, DTMF digits, the end reasons, and empty transaction/dialog tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import socket
import sys
import time
import wave

import numpy as np
import pytest

from telephony import Bridge, Call, EndpointConfig, MediaConfig, SipEndpoint, TimingConfig, Timers

pytestmark = pytest.mark.e2e
FAST = Timers(t1=0.02, t2=0.1, t4=0.1, d=0.3)
PEER_SCRIPT = os.path.join(os.path.dirname(__file__), "peers", "pjsua_peer.py")
HAVE_PJSUA = importlib.util.find_spec("pjsua2") is not None


# ---- audio helpers ----------------------------------------------------------------------------
def tone(freq: float, seconds: float, amp: float = 6000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (np.sin(2 * np.pi * freq * t) * amp).astype("<i2").tobytes()


def write_wav(path, pcm: bytes, rate: int = 8000) -> str:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return str(path)


def read_wav(path) -> tuple[np.ndarray, int]:
    """Samples of a 16-bit mono WAV, tolerating a header whose lengths were never filled in."""
    data = open(path, "rb").read()
    rate = int.from_bytes(data[24:28], "little")
    i = data.find(b"data")
    return np.frombuffer(data[i + 8 : i + 8 + (len(data) - i - 8) // 2 * 2], "<i2").astype(float), rate


def tone_level(x: np.ndarray, rate: int, freq: float) -> float:
    """Fraction of the signal's spectral energy within ±15 Hz of `freq`."""
    if len(x) < 256:
        return 0.0
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spec[np.abs(f - freq) <= 15].sum() / max(spec.sum(), 1e-9))


def dominant_tones(x: np.ndarray, rate: int, window_s: float = 0.2) -> list[int]:
    """The dominant frequency (rounded to 10 Hz) of each window with real energy."""
    w = int(rate * window_s)
    out = []
    for i in range(0, len(x) - w + 1, w):
        seg = x[i : i + w]
        if np.sqrt(np.mean(seg**2)) < 500:
            continue
        spec = np.abs(np.fft.rfft(seg * np.hanning(w)))
        out.append(int(round(np.fft.rfftfreq(w, 1 / rate)[int(np.argmax(spec))] / 10) * 10))
    return out


def runs(seq: list[int]) -> list[int]:
    """Consecutive duplicates collapsed, runs shorter than 2 windows dropped (edges)."""
    out: list[int] = []
    i = 0
    while i < len(seq):
        j = i
        while j < len(seq) and seq[j] == seq[i]:
            j += 1
        if j - i >= 2 and (not out or out[-1] != seq[i]):
            out.append(seq[i])
        i = j
    return out


def pcm(frames: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(f for f in frames if f), "<i2").astype(float)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_for(cond, timeout=5.0) -> bool:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.02)
    return True


async def drained(ep: SipEndpoint, timeout=4.0) -> bool:
    return await wait_for(lambda: not (ep.server_tx or ep.client_tx or ep.legs), timeout)


def drain_queue(q: asyncio.Queue) -> list[bytes]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


class Bot:
    """Our endpoint; inbound calls are queued for the test and held until they end."""

    def __init__(self, name="bot", rtp_ports=(36000, 36998)) -> None:
        self.inbound: asyncio.Queue[Call] = asyncio.Queue()

        async def on_call(call: Call) -> None:
            self.inbound.put_nowait(call)
            await call.ended.wait()

        self.ep = SipEndpoint(EndpointConfig("127.0.0.1", 0, user=name, media=MediaConfig(rtp_ports=rtp_ports),
                                             timing=TimingConfig(FAST, answer_delay=0.0)), on_call)

    @property
    def uri(self) -> str:
        return f"sip:{self.ep.config.user}@127.0.0.1:{self.ep.port}"


# ---- a peer process, bounded and killed by PID --------------------------------------------------
class PeerProcess:
    def __init__(self, name: str) -> None:
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.events: list[dict] = []
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def start(self, *cmd: str, cwd=None, max_seconds: float = 40) -> "PeerProcess":
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=cwd)
        self._reader = asyncio.create_task(self._read())
        self._watchdog = asyncio.get_running_loop().call_later(max_seconds, self._kill, 9)  # bounded in time
        return self

    def _kill(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    async def _read(self) -> None:
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip()
            self.lines.append(text)
            if text.startswith("{"):
                with contextlib.suppress(ValueError):
                    self.events.append(json.loads(text))
            self._changed.set()

    def send(self, line: str) -> None:
        if self.proc and self.proc.returncode is None and self.proc.stdin:
            self.proc.stdin.write((line + "\n").encode())

    def find(self, event: str, **match) -> list[dict]:
        return [e for e in self.events if e.get("event") == event and all(e.get(k) == v for k, v in match.items())]

    async def wait_event(self, event: str, timeout: float = 5.0, **match) -> dict:
        end = time.monotonic() + timeout
        while True:
            found = self.find(event, **match)
            if found:
                return found[-1]
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: no {event} {match}; output tail:\n" + "\n".join(self.lines[-30:]))
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def stop(self, grace: float = 3.0) -> None:
        if self.proc is None:
            return
        for sig in (0, 15, 9):  # let it quit, then SIGTERM, then SIGKILL, by PID
            if self.proc.returncode is not None:
                break
            if sig:
                self._kill(sig)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace if sig == 0 else 2)
        self._watchdog.cancel()
        if self._reader:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._reader, 2)


@pytest.fixture
async def peers():
    started: list[PeerProcess] = []

    async def start(name, *cmd, cwd=None, max_seconds=40):
        p = await PeerProcess(name).start(*cmd, cwd=cwd, max_seconds=max_seconds)
        started.append(p)
        return p

    yield start
    for p in started:
        p.send("quit")
    for p in started:
        await p.stop(grace=1.0)


async def pjsua(peers, role: str, codecs: str, play: str, record_prefix: str, rtp_port: int, max_seconds=40):
    port = free_port()
    p = await peers(role, sys.executable, PEER_SCRIPT, "--role", role, "--port", str(port), "--rtp-port", str(rtp_port),
                    "--codecs", codecs, "--play", play, "--record-prefix", record_prefix, "--max-seconds", str(max_seconds))
    await p.wait_event("ready", timeout=10)
    p.uri = f"sip:{role}@127.0.0.1:{port}"
    return p


# ---- pjsua2: warm transfer through the bridge, then attended transfer with Replaces ------------
@pytest.mark.skipif(not HAVE_PJSUA, reason="pjsua2-python not installed (test-only peer, pinned 2.15.1.post1)")
async def test_pjsua_warm_bridge_then_attended_transfer_with_replaces(peers, tmp_path):
    bot = Bot()
    await bot.ep.start()
    try:
        caller = await pjsua(peers, "caller", "PCMA,PCMU", write_wav(tmp_path / "c.wav", tone(440, 2.0)),
                             str(tmp_path / "caller"), 47200)
        agent = await pjsua(peers, "agent", "PCMU", write_wav(tmp_path / "a.wav", tone(1000, 2.0)),
                            str(tmp_path / "agent"), 47300)
        caller.send(f"call {bot.uri}")
        caller_leg = await asyncio.wait_for(bot.inbound.get(), 5)
        assert caller_leg.codec == "PCMA"
        agent_leg = await bot.ep.invite(agent.uri, codecs=("PCMU",), headers=[("X-Summary", "billing dispute")],
                                        ring_timeout=5)
        assert agent_leg.codec == "PCMU"
        assert (await agent.wait_event("media"))["codec"] == "PCMU"
        assert (await caller.wait_event("media"))["codec"] == "PCMA"

        bridge = Bridge(caller_leg, agent_leg).start()
        said_by_caller, said_by_agent = bridge.tap(caller_leg), bridge.tap(agent_leg)
        bridge.hold(caller_leg, tone(300, 0.4))  # the caller hears hold audio...
        bridge.play(agent_leg, tone(1500, 0.8))  # ...while the agent alone hears the whisper
        await asyncio.wait_for(bridge.played(agent_leg), 3)
        await asyncio.sleep(0.1)
        bridge.join()
        drain_queue(said_by_caller), drain_queue(said_by_agent)
        await asyncio.sleep(1.5)
        caller_audio, agent_audio = pcm(drain_queue(said_by_caller)), pcm(drain_queue(said_by_agent))
        assert len(caller_audio) > 8000 and tone_level(caller_audio[2000:], 8000, 440) > 0.8
        assert tone_level(agent_audio[2000:], 8000, 1000) > 0.8
        caller.send("dtmf 123")
        assert await wait_for(lambda: "".join(bridge.stats()["caller"]["digits"]) == "123", 5)
        for d in "123":  # relayed by the bridge as RFC 4733 events to the agent's phone
            await agent.wait_event("dtmf", digit=d, timeout=3)
        await asyncio.sleep(0.3)

        await bridge.stop()
        result = await caller_leg.refer(agent_leg, timeout=10)
        assert result.response == 202 and result.ok, result
        req = await caller.wait_event("transfer_request")
        assert "Replaces=" in req["target"] and agent_leg.dialog.call_id.split("@")[0] in req["target"]
        await agent.wait_event("replace_request")
        assert await wait_for(lambda: caller_leg.ended.is_set() and agent_leg.ended.is_set(), 5)
        assert caller_leg.end_reason == "transferred" and agent_leg.end_reason == "replaced"
        assert await drained(bot.ep), (bot.ep.server_tx, bot.ep.client_tx, bot.ep.legs)

        # the two phones now talk directly: RTP flows between their own ports, not ours
        await asyncio.sleep(1.2)
        caller.send("stats")
        agent.send("stats")
        c_stats = await caller.wait_event("stats", active=True)
        a_stats = await agent.wait_event("stats", active=True)
        assert c_stats["remote"].startswith("127.0.0.1:473") and a_stats["remote"].startswith("127.0.0.1:472")
        assert c_stats["rx"] > 30 and a_stats["rx"] > 30
        assert c_stats["call_id"] == a_stats["call_id"] != caller_leg.call_id
        caller.send("quit")
        agent.send("quit")
        await caller.stop()
        await agent.stop()

        # what each phone heard, from its own recordings (dominant tone per 200 ms window)
        heard_by_agent = dominant_tones(*read_wav(tmp_path / "agent1.wav"))  # its call with us
        assert runs(heard_by_agent)[:2] == [1500, 440], heard_by_agent  # whisper, then the caller (PCMA → PCMU)
        assert heard_by_agent.count(1500) >= 3 and heard_by_agent.count(440) >= 6
        heard_by_caller = dominant_tones(*read_wav(tmp_path / "caller1.wav"))
        assert runs(heard_by_caller)[:2] == [300, 1000], heard_by_caller  # hold audio, then the agent (PCMU → PCMA)
        assert heard_by_caller.count(1000) >= 6
        assert set(dominant_tones(*read_wav(tmp_path / "caller2.wav"))) == {1000}  # the REFER's call, direct
        assert set(dominant_tones(*read_wav(tmp_path / "agent2.wav"))) == {440}
    finally:
        await bot.ep.stop()


# ---- baresip: a caller we blind-transfer with REFER ---------------------------------------------
BARESIP_CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{sip}
sip_transports udp
net_interface 127.0.0.1
audio_player aufile,{dir}/heard.wav
audio_source aufile,{dir}/say.wav
audio_alert aufile,{dir}/alert.wav
rtp_ports {rtp}-{rtp_end}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
"""


async def ctrl_tcp(port: int, command: str, params: str = "") -> None:
    """One baresip ctrl_tcp command (netstring-framed JSON)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    msg = json.dumps({"command": command, "params": params, "token": "t"}).encode()
    writer.write(str(len(msg)).encode() + b":" + msg + b",")
    await writer.drain()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(reader.read(4096), 1.0)
    writer.close()


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip not installed (apt-get install baresip-core)")
async def test_baresip_blind_transfer_with_refer(peers, tmp_path):
    bot, target = Bot("bot", (37000, 37998)), Bot("desk", (38000, 38998))
    await bot.ep.start()
    await target.ep.start()
    try:
        sip, ctrl = free_port(), free_port()
        write_wav(tmp_path / "say.wav", tone(800, 12.0))
        (tmp_path / "config").write_text(BARESIP_CONFIG.format(sip=sip, ctrl=ctrl, dir=tmp_path, rtp=47600, rtp_end=47690))
        (tmp_path / "accounts").write_text(f"<sip:baresip@127.0.0.1:{sip}>;regint=0;answermode=auto;audio_codecs=PCMA\n")
        bs = await peers("baresip", "baresip", "-f", str(tmp_path), max_seconds=30)
        assert await wait_for(lambda: any("baresip is ready" in line for line in bs.lines), 5), bs.lines
        await ctrl_tcp(ctrl, "dial", bot.uri)
        leg = await asyncio.wait_for(bot.inbound.get(), 5)
        assert leg.codec == "PCMA" and leg.headers.get("User-Agent", "").startswith("baresip")
        frames = [await leg.read_frame() for _ in range(40)]
        said = pcm(frames[-25:])
        assert dominant_tones(said, 8000) and set(dominant_tones(said, 8000)) == {800}  # baresip's aufile, PCMA
        packets_before = leg.media.packets_received

        result = await leg.refer(target.uri, timeout=8)
        assert result.response == 202 and result.ok and result.progress[-1] == 200, result
        assert leg.end_reason == "transferred" and packets_before >= 35
        moved = await asyncio.wait_for(target.inbound.get(), 3)
        assert moved.remote_uri.startswith("sip:baresip@127.0.0.1")
        heard = pcm([await moved.read_frame() for _ in range(40)][-25:])
        assert set(dominant_tones(heard, 8000)) == {800}  # baresip's audio now reaches the transfer target
        assert await drained(bot.ep)
        await moved.hangup()
        assert moved.end_reason == "local_bye" and await drained(target.ep)
    finally:
        await bot.ep.stop()
        await target.ep.stop()


# ---- sipp: an agent UAS that echoes RTP (PCMU only), bridged to a PCMA caller leg -------------------
@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")
async def test_sipp_echo_agent_bridged_to_pcma_caller(peers, tmp_path):
    bot, phone = Bot("bot", (39000, 39498)), Bot("phone", (39500, 39998))
    await bot.ep.start()
    await phone.ep.start()
    try:
        port = free_port()
        sipp = await peers("sipp", "sipp", "-sn", "uas", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(port),
                           "-mp", "48200", "-rtp_echo", "-m", "1", "-timeout", "20s", "-timeout_error", "-nostdin", "-nd",
                           cwd=str(tmp_path), max_seconds=25)
        await asyncio.sleep(0.3)
        caller = await phone.ep.invite(bot.uri, codecs=("PCMA",))
        caller_leg = await asyncio.wait_for(bot.inbound.get(), 3)
        agent_leg = await bot.ep.invite(f"sip:agent@127.0.0.1:{port}", ring_timeout=5)
        assert caller_leg.codec == "PCMA" and agent_leg.codec == "PCMU"
        bridge = Bridge(caller_leg, agent_leg, joined=True).start()
        from_agent = bridge.tap(agent_leg)
        caller.play(tone(440, 2.0))
        received_before = caller.media.packets_received
        heard = [await caller.read_frame() for _ in range(100)]  # 2 s
        # the caller's tone went PCMA → bot → PCMU → sipp, came back echoed, → PCMU → bot → PCMA
        echoed = pcm(heard[50:])
        assert set(dominant_tones(echoed, 8000)) == {440} and np.sqrt(np.mean(echoed**2)) > 2000
        assert set(dominant_tones(pcm(drain_queue(from_agent)[-40:]), 8000)) == {440}
        got = caller.media.packets_received - received_before
        assert 95 <= got <= 103  # one RTP packet every 20 ms, all the way round
        assert agent_leg.media.packets_received >= 90 and agent_leg.media.stats.lost == 0
        assert bridge.stats()["agent"]["dropped_ms"] < 100

        await caller.hangup()  # the caller leaves: the bridge ends and BYEs the agent leg (sipp)
        assert await asyncio.wait_for(bridge.wait(), 3) == "caller:remote_bye"
        assert await wait_for(lambda: agent_leg.ended.is_set(), 3) and agent_leg.end_reason == "local_bye"
        assert await asyncio.wait_for(sipp.proc.wait(), 5) == 0, "\n".join(sipp.lines[-20:])
        assert await drained(bot.ep) and await drained(phone.ep)
    finally:
        await bot.ep.stop()
        await phone.ep.stop()
