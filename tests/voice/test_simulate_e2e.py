"""End to end: `ivr simulate` as a user runs it, on synthetic callers with known words and timing."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import jiwer
import numpy as np
import pytest

from voice.audio import read_wav

IVR = [sys.executable, "-m", "ivr.cli"]
GREETING_CLEARANCE = 7.0  # the greeting is ~6 s; callers who wait for it start after this


def simulate(path, *extra, timeout=240):
    """The voice path alone: the echo bot reads back what it heard (no NLU, no policy)."""
    t0 = time.monotonic()
    p = subprocess.run([*IVR, "simulate", str(path), "--json", "--bot", "echo", *extra], capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    assert p.returncode == 0, p.stderr[-2000:]
    events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return events, p.stderr, wall


def norm(text):
    return re.sub(r"[^a-z' ]+", " ", text.lower()).split()


def wer(ref, hyp):
    return jiwer.wer(" ".join(norm(ref)), " ".join(norm(hyp)))


@pytest.fixture(scope="module")
def three_turns(make_caller, tmp_path_factory):
    caller = make_caller(
        [
            (GREETING_CLEARANCE, "Hi, I would like to check the status of my order please."),
            (7.0, "I ordered a blue jacket last week and it has not arrived yet."),
            (8.0, "Thank you, that is all. Goodbye."),
        ],
        rate=22050,
        channels=2,
    )
    out = tmp_path_factory.mktemp("sim") / "bot.wav"
    events, stderr, _ = simulate(caller.path, "--fast", "--out", str(out))
    return caller, events, out


def test_event_stream_shape(three_turns):
    _, events, _ = three_turns
    assert all("event" in e for e in events)
    assert events[-1]["event"] == "end" and events[-1]["outcome"] == "bot_resolved"
    assert sum(e["event"] == "end" for e in events) == 1
    greeting = events[0]
    assert greeting["event"] == "bot" and greeting["start"] == 0.0 and not greeting["interrupted"]
    assert "automated assistant" in greeting["text"]
    for e in events:
        if e["event"] == "turn":
            assert set(e) >= {"index", "start", "end", "text", "prosody"}
            # The echo bot computes no NLU: no placeholder keys for it.
            assert not {"intent", "entities", "frustration"} & set(e)
            assert {"pitch_median_hz", "energy_db", "speaking_rate_sps", "pause_ratio", "pitch_median_hz_z"} <= set(e["prosody"])


def test_transcripts_and_turn_boundaries(three_turns):
    caller, events, _ = three_turns
    turns = [e for e in events if e["event"] == "turn"]
    assert [t["index"] for t in turns] == [0, 1, 2]
    total = wer(" ".join(s.text for s in caller.segments), " ".join(t["text"] for t in turns))
    assert total < 0.15, [t["text"] for t in turns]
    for t, seg in zip(turns, caller.segments):
        assert abs(t["start"] - seg.start) < 0.15, (t, seg)
        assert abs(t["end"] - seg.end) < 0.35, (t, seg)


def test_bot_answers_each_turn_after_it_ends(three_turns):
    _, events, _ = three_turns
    seq = [e for e in events if e["event"] in ("turn", "bot")]
    for i, e in enumerate(seq):
        if e["event"] == "turn":
            reply = seq[i + 1]
            assert reply["event"] == "bot"
            assert e["end"] < reply["start"] < e["end"] + 1.2
            assert not reply["interrupted"]
    assert seq[-1]["text"].lower().startswith("thank you for calling")


def test_bot_audio_is_time_aligned(three_turns):
    caller, events, out = three_turns
    bot = read_wav(out)
    assert bot.rate == 8000 and bot.duration >= caller.duration - 0.05
    x = bot.samples.astype(float)

    def rms(a, b):
        seg = x[int(a * 8000) : int(b * 8000)]
        return np.sqrt(np.mean(seg**2)) if len(seg) else 0.0

    for e in events:
        if e["event"] == "bot":
            assert rms(e["start"], e["start"] + 1.0) > 300  # the bot is audible when it says it speaks
    for seg in caller.segments:
        assert rms(seg.start + 0.1, seg.end - 0.1) < 30  # and silent while the caller talks


def test_barge_in_stops_the_bot_within_200_ms(make_caller, tmp_path):
    caller = make_caller([(1.5, "Sorry to interrupt, I need to talk about a charge on my bill.")], tail=4.0)
    out = tmp_path / "bot.wav"
    events, _, _ = simulate(caller.path, "--fast", "--out", str(out))
    greeting = events[0]
    assert greeting["event"] == "bot" and greeting["interrupted"] is True
    turn = next(e for e in events if e["event"] == "turn")
    assert wer(caller.segments[0].text, turn["text"]) < 0.25
    onset = caller.segments[0].start
    x = read_wav(out).samples.astype(float)
    before = x[int(0.2 * 8000) : int(onset * 8000)]
    after = x[int((onset + 0.2) * 8000) : int(turn["end"] * 8000)]
    assert np.sqrt(np.mean(before**2)) > 300
    assert np.abs(after).max() == 0  # nothing of the greeting after onset + 200 ms
    replies = [e for e in events if e["event"] == "bot"][1:]
    assert replies and replies[0]["start"] > turn["end"]


def test_other_voice_and_noise(make_caller):
    """espeak-ng's formant voice with line noise: nothing like the voice the bot speaks with."""
    caller = make_caller(
        [(GREETING_CLEARANCE, "I want to speak to a person about my account"), (3.0, "please transfer me now")],
        voice="espeak",
        rate=16000,
        noise_db=-50,
    )
    events, _, _ = simulate(caller.path, "--fast")
    turns = [e for e in events if e["event"] == "turn"]
    assert len(turns) == 2
    assert wer(" ".join(s.text for s in caller.segments), " ".join(t["text"] for t in turns)) < 0.4


def test_real_time_pace_gives_the_same_results(make_caller):
    caller = make_caller([(GREETING_CLEARANCE, "Can you tell me your opening hours?")], tail=2.5)
    fast, _, _ = simulate(caller.path, "--fast")
    slow, _, wall = simulate(caller.path)
    # The same events, turns and replies in the same order; the caller's words may differ by a
    # homophone ("your"/"you're"): the turn's audio reaches Whisper cut at the pause or at the end
    # of the turn depending on when its speculative transcription finished.
    pick = lambda evs: [(e["event"], e.get("text") if e["event"] != "turn" else None, e.get("index")) for e in evs]  # noqa: E731
    assert pick(fast) == pick(slow)
    for a, b in zip((e for e in fast if e["event"] == "turn"), (e for e in slow if e["event"] == "turn")):
        assert wer(a["text"], b["text"]) <= 0.2, (a["text"], b["text"])
    ft = next(e for e in fast if e["event"] == "turn")
    st = next(e for e in slow if e["event"] == "turn")
    assert (ft["start"], ft["end"]) == (st["start"], st["end"])
    assert wall >= caller.duration * 0.95  # really paced at 20 ms per frame


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, make_caller, kind):
    p = tmp_path / "bad.wav"
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("definitely not a wav file\n" * 20)
    elif kind == "truncated":
        good = make_caller([(0.2, "hello there")])
        p.write_bytes(Path(good.path).read_bytes()[:5000])
    proc = subprocess.run([*IVR, "simulate", str(p), "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr and str(p.name) in lines[0]
