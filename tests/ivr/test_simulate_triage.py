"""End to end: `ivr simulate` with the real bot (triage dialog + escalation policy) on spoken callers.

Callers are synthesized speech through the telephone band, so the NLU works on what Whisper
heard, not on the script: these tests hold the whole chain to account.
"""

import json
import subprocess
import sys

import pytest
import yaml

IVR = [sys.executable, "-m", "ivr.cli"]
CLEAR = 7.5  # the greeting has finished


def run(path, *extra):
    p = subprocess.run([*IVR, "simulate", str(path), "--json", "--fast", *extra], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def kinds(events):
    return [e["event"] for e in events]


def test_calm_caller_gets_order_status_without_a_person(make_caller):
    caller = make_caller(
        [
            (CLEAR, "Hi, I want to check where my order is."),
            (4.0, "It's four five six seven eight."),
            (5.0, "Yes, that's right."),
            (8.0, "No, that's all, thank you. Goodbye."),
        ],
        tail=5.0,
    )
    events = run(caller.path)
    turns = [e for e in events if e["event"] == "turn"]
    assert turns[0]["intent"] == "order_status" and 0 < turns[0]["confidence"] <= 1
    assert any(t["entities"].get("order_number") == "45678" or "45678" in json.dumps(t["entities"]) for t in turns)
    for t in turns:
        f = t["frustration"]
        assert 0 <= f["score"] <= 1 and 0 <= f["smoothed"] <= 1 and set(f["parts"]) >= {"text", "prosody", "dialogue"}
    said = " ".join(e["text"] for e in events if e["event"] == "bot").lower()
    assert "headphones" in said or "shipped" in said  # resolved against the company's data
    assert "decision" not in kinds(events)
    assert events[-1] == {"event": "end", "outcome": "bot_resolved"}


@pytest.mark.parametrize(
    "line,reason",
    [
        ("I want to speak to a real person please.", "explicit_request"),
        ("Someone stole my credit card and I need to block it.", "sensitive_intent"),
    ],
)
def test_transfer_with_the_right_reason_and_a_summary(make_caller, line, reason):
    caller = make_caller([(CLEAR, line)], tail=6.0)
    events = run(caller.path)
    k = kinds(events)
    assert "decision" in k and "summary" in k and k.index("decision") < k.index("summary")
    decision = events[k.index("decision")]
    assert decision["action"] == "transfer" and decision["reason"] == reason and decision["rule"]
    summary = events[k.index("summary")]
    assert summary["escalation_reason"] == reason
    assert summary["paragraph"] and summary["transcript"]
    assert events[-1] == {"event": "end", "outcome": "transferred"}


def test_frustration_builds_and_trips_the_policy(make_caller, tmp_path):
    caller = make_caller(
        [
            (CLEAR, "I'm calling about my order."),
            (4.0, "I already told you, it's about my order. This is ridiculous."),
            (4.0, "This is the third time I've called and nobody can help me. Unbelievable."),
            (4.0, "I have been on hold for an hour, this is absolutely useless."),
        ],
        tail=6.0,
    )
    # No explicit request in the script; frustration is the only way out, so make it the only rule.
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump({"explicit_request": False, "sensitive_intents": [], "max_no_match": 9}))
    events = run(caller.path, "--policy", str(policy))
    decision = next(e for e in events if e["event"] == "decision")
    assert decision["reason"] == "frustration"
    scores = [e["frustration"]["smoothed"] for e in events if e["event"] == "turn"]
    assert scores[-1] > scores[0]  # the trajectory rose
    assert events[-1]["outcome"] == "transferred"


def test_invalid_policy_is_refused_with_the_field_named(tmp_path, make_caller):
    policy = tmp_path / "bad.yaml"
    policy.write_text("frustration:\n  threshold: 1.7\n")
    caller = make_caller([(1.0, "hello")])
    p = subprocess.run([*IVR, "simulate", str(caller.path), "--json", "--fast", "--policy", str(policy)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "frustration_threshold" in p.stderr and "Traceback" not in p.stderr


def test_card_numbers_never_reach_the_output(make_caller):
    caller = make_caller([(CLEAR, "My card number is 4111 1111 1111 1111 and it was stolen.")], tail=6.0)
    p = subprocess.run([*IVR, "simulate", str(caller.path), "--json", "--fast"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    import re

    assert not re.search(r"(\d[ -]?){13,19}", p.stdout), p.stdout  # no card number, in any event
    turns = [json.loads(line) for line in p.stdout.splitlines() if '"event": "turn"' in line]
    assert turns and "[card number]" in turns[0]["text"]
