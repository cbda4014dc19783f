"""End to end: the same neutral words said calmly and agitated, through `ivr simulate` and the real bot.

The voice is held out of the voice model's training (ivr/tools/synth_speech.py TEST_VOICES), the words are
a held-out pair call, and Whisper, not the script, supplies the text: only the delivery differs.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from ivr.tools import synth_speech as ss
from voice.audio import write_wav

IVR = [sys.executable, "-m", "ivr.cli"]
CLEAR = 7.5  # the greeting has finished
WORDS = dict(ss.PAIR_CALLS)["technical"]


def caller(models, delivery, path):
    voice = ss.TEST_VOICES[0]
    parts = [np.zeros(int(CLEAR * 16000), dtype=np.int16)]
    # 12 s between lines: the bot's reply to the first (the router advice and the offer of a
    # person) runs ~9 s, and a caller talking over it is a barge-in, a dialogue signal of its own.
    for text in WORDS:
        parts += [ss.render(voice, delivery, text, models), np.zeros(int(12.0 * 16000), dtype=np.int16)]
    write_wav(path, np.concatenate(parts + [np.zeros(3 * 16000, dtype=np.int16)]), 16000)
    return path


@pytest.mark.skipif(not ss.sox_available(), reason="sox is not installed (make test installs it)")
def test_agitated_delivery_of_neutral_words_scores_clearly_above_the_calm_one(models, tmp_path):
    calm, agitated = ss.pair_deliveries(ss.TEST_VOICES[0])
    # no rule but frustration may end the call early
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"sensitive_intents": [], "explicit_request": False, "max_no_match": 9}))
    scores = {}
    for d in (calm, agitated):
        p = subprocess.run([*IVR, "simulate", str(caller(models, d, tmp_path / f"{d.name}.wav")), "--json", "--fast",
                            "--policy", str(policy)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-3000:]
        events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        turns = [e for e in events if e["event"] == "turn"]
        assert len(turns) >= 2, events
        assert all("arousal_logit" in t["prosody"] for t in turns)
        scores[d.name] = [t["frustration"]["score"] for t in turns]
        if d is calm:
            assert not any(e["event"] == "decision" and e.get("reason") == "frustration" for e in events)
            assert max(t["frustration"]["parts"]["prosody"] for t in turns) < 1.5
        else:
            assert turns[0]["frustration"]["parts"]["prosody"] > 1.0  # the voice drove it, from the first turn
    mean = {k: sum(v) / len(v) for k, v in scores.items()}
    assert mean["agitated"] >= mean["calm"] + 0.15, scores
    assert scores["agitated"][0] > scores["calm"][0] + 0.1, scores  # no baseline yet
