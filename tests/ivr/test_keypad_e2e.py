"""End to end: `ivr simulate` with the real bot, a spoken request, then an order number keyed in
(DTMF at media times, as `ivr call --dtmf` presses them) and '#': the order is resolved."""

import json
import subprocess
import sys

import pytest

IVR = [sys.executable, "-m", "ivr.cli"]
CLEAR = 7.5  # the greeting has finished


@pytest.mark.e2e
def test_an_order_number_keyed_in_and_ended_by_hash_resolves_the_order(make_caller):
    caller = make_caller([(CLEAR, "Hi, I want to check where my order is.")], tail=12.0)
    start = caller.segments[0].end + 5.0  # the bot has asked for the number ("say or key in...")
    keys = [f"{k}@{start + 0.3 * i:.2f}" for i, k in enumerate("45678#")]
    p = subprocess.run([*IVR, "simulate", str(caller.path), "--json", "--fast", *sum((["--dtmf", k] for k in keys), [])],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    events = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    bot = [e["text"] for e in events if e["event"] == "bot"]
    assert any("key in your order number" in t for t in bot), bot
    keyed = [e for e in events if e["event"] == "turn" and e.get("keypad")]
    assert len(keyed) == 1 and keyed[0]["text"] == "[keypad] 45678"
    assert keyed[0]["entities"]["order_number"] == "45678"
    assert keyed[0]["start"] >= start - 0.05 and keyed[0]["end"] <= start + 1.6  # media times of the keys
    after = bot[bot.index(next(t for t in bot if "key in your order number" in t)) + 1]
    assert "shipped" in after and "headphones" in after.lower()  # resolved against the company's data
    assert not [e for e in events if e["event"] == "dtmf"]  # every key, '#' too, went into the entry
    assert "decision" not in [e["event"] for e in events]
