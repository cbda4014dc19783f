"""Real softphones on both ends: a pjsua2 caller whose speech grows frustrated trips the policy,
and a pjsua2 agent phone is rung, hears the whisper and is bridged with the caller."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml

from routing.transfer import whisper_text
from voice.audio import resample, write_wav
from voice.models import shared_models
from voice.wer import normalise

from tests.support import free_port, running_service, tone, tone_seconds

pytestmark = pytest.mark.e2e
PEER = os.path.join(os.path.dirname(__file__), "..", "telephony", "peers", "pjsua_peer.py")


def recording(path) -> np.ndarray:
    """pjsua's recorder leaves the WAV header's sizes at 0 when the process exits before it is
    destroyed; the samples (16-bit, 8 kHz mono, after a 44-byte header) are all there."""
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[36:40] == b"data", "not a pjsua WAV recording"
    assert int.from_bytes(raw[24:28], "little") == 8000
    return np.frombuffer(raw[44 : 44 + (len(raw) - 44) // 2 * 2], dtype="<i2")


def bridged(svc) -> bool:
    calls = svc.api("/api/calls?limit=1")["calls"]
    if not calls:
        return False
    events = svc.api(f"/api/calls/{calls[0]['id']}/events")["events"]
    return any(e.get("event") == "transfer" and e.get("state") == "bridged" for e in events)


class Peer:
    def __init__(self, role, port, play, record_prefix):
        self.proc = subprocess.Popen(
            [sys.executable, PEER, "--role", role, "--port", str(port), "--rtp-port", str(free_port() & ~1),
             "--play", str(play), "--record-prefix", str(record_prefix), "--max-seconds", "90"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                pass

    def wait_for(self, kind, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ev = self.events.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if ev.get("event") == kind:
                return ev
        raise AssertionError(f"no {kind!r} event from the {self.proc.args[3]} phone")

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


def test_frustrated_pjsua_caller_is_warm_transferred_to_a_pjsua_agent(tmp_path):
    pytest.importorskip("pjsua2")  # installed by `make test` (the test extra); pinned test peer
    models = shared_models()
    # The caller: waits for the greeting, gets more and more frustrated, then (on hold) a 440 Hz tone.
    parts = []
    script = [
        (7.5, "I'm calling about my order."),
        (4.0, "I already told you, it's about my order. This is ridiculous."),
        (4.0, "This is the third time I've called and nobody can help me. Unbelievable."),
    ]
    for pause, line in script:
        parts += [np.zeros(int(pause * 8000), np.int16), models.synthesize_all(line, 8000)]
    speech = np.concatenate(parts)
    caller_wav = tmp_path / "caller.wav"
    # "On hold": a 440 Hz tone from 3.5 s after the last line (by then the policy has tripped and
    # the call is the transfer's) for as long as the test runs, so whoever picks up hears it.
    tail = np.zeros(int(60 * 8000), np.int16)
    tail[int(3.5 * 8000) : int(55 * 8000)] = tone(440, 51.5)
    write_wav(caller_wav, np.concatenate([speech, tail]), 8000)
    agent_wav = tmp_path / "agent.wav"
    write_wav(agent_wav, np.concatenate([np.zeros(8000, np.int16), tone(1000, 50.0)]), 8000)

    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"explicit_request": False, "sensitive_intents": [], "max_no_match": 9}))
    agent_port = free_port()
    agent = caller = None
    with running_service(tmp_path, "--policy", str(policy), "--agent", f"alice=sip:alice@127.0.0.1:{agent_port}") as svc:
        try:
            agent = Peer("agent", agent_port, agent_wav, tmp_path / "agent_rec")
            caller = Peer("caller", free_port(), caller_wav, tmp_path / "caller_rec")
            agent.wait_for("ready", 20)
            caller.wait_for("ready", 20)
            caller.send(f"call sip:support@127.0.0.1:{svc.sip}")
            agent.wait_for("incoming", 60)  # the policy tripped and the agent's phone rang
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not bridged(svc):  # the service's own event log
                time.sleep(0.2)
            assert bridged(svc), "the transfer never bridged"
            time.sleep(4.0)  # let audio cross the bridge both ways
            caller.send("hangup")
            caller.wait_for("state", 10)
        finally:
            for p in (caller, agent):
                if p is not None:
                    p.stop()
    a = recording(tmp_path / "agent_rec1.wav")
    c = recording(tmp_path / "caller_rec1.wav")
    assert tone_seconds(a, 440) >= 2.0  # then the caller, through the bridge (4 s of it before the hang-up)
    assert tone_seconds(c, 1000) >= 1.0  # and the caller heard the agent
    from store import Store

    store = Store(f"sqlite:///{tmp_path}/ivr.db")
    try:
        calls = store.list_calls(5, 0)
        call = store.get_call(calls[0]["id"])
    finally:
        store.close()
    assert call["escalation_reason"] == "frustration" and call["outcome"] == "transferred"
    # The agent first heard the whisper: the call's headline, transcribed. Whisper tiny.en hears
    # the bot's own voice at 8 kHz loosely ("or status, color upset, out-identified." for "Order
    # status, caller upset, not identified."), so a third of its words must come back, not all.
    said = normalise(whisper_text(call["summary"], "frustration"))
    heard = normalise(models.transcribe_sync(resample(a[: 8 * 8000], 8000, 16000)).text)
    assert len(said) >= 3 and 3 * sum(w in heard for w in said) >= len(said), (said, heard)
    assert any(x["result"] == "answered" for x in call["transfer_attempts"])
