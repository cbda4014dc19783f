"""End to end: `ivr eval callers` runs two callers of the set through the real pipeline, and its
figures agree with what happened in those calls."""

import json

import pytest

from ivr.tools.caller_metrics import CUT_TOLERANCE_S
from ivr.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_callers")
    out = tmp / "eval.json"
    rc = main(["eval", "callers", "--only", "t-order-calm", "--only", "t-human-plain",
               "--cache", str(tmp / "audio"), "--json", str(out)])
    assert rc == 0
    return json.loads(out.read_text())


def _call(report, cid):
    return next(c for c in report["calls"] if c["id"] == cid)


@pytest.mark.e2e
def test_a_calm_order_caller_is_routed_right_without_cut_ins(report):
    c = _call(report, "t-order-calm")
    assert c["outcome"] == "bot_resolved" and c["routed_right"] and not c["premature_end"]
    assert c["first_intent"] == "order_status" and c["first_intent_right"]
    assert any(s["action"] == "order_lookup" and s["detail"] == "order 45678" and s["result"].startswith("found")
               for s in c["steps"])
    assert c["cut_ins"] == 0
    # It reacted to the bot: it spoke its opening after the greeting, its number when asked, its
    # yes to the read-back and its closing to "anything else?".
    assert c["said"] == ["opening", "order", "yes", "closing"]
    assert "order number" in c["bot"][1] and "Is that right?" in c["bot"][2] and "anything else" in c["bot"][3]
    greeting_end = c["bot_audio"][0][1]
    assert c["lines"][0]["start"] >= greeting_end + 0.29
    # Figures from the call itself: every line was answered after it ended, dead air as measured.
    for line in c["lines"]:
        assert not line["cut_in"] and line["turns"] == 1
        starts = [s for s, _e in c["bot_audio"] if s >= line["start"]]
        assert starts and starts[0] >= line["end"] - CUT_TOLERANCE_S
    assert c["dead_air"] and all(0.1 < d < 2.0 for d in c["dead_air"])
    assert c["word_errors"] <= 0.3 * c["ref_words"]


@pytest.mark.e2e
def test_a_caller_who_asks_for_a_person_is_handed_on_for_that_reason(report):
    c = _call(report, "t-human-plain")
    assert c["outcome"] == "transferred" and c["reason"] == "explicit_request" and c["routed_right"]
    assert c["first_intent"] == "speak_to_human" and not c["premature_end"]
    assert c["said"] == ["opening"] and c["ended_by"] == "bot"
    tune = report["figures"]["tune"]["overall"]
    assert tune["calls"] == 2 and tune["routed_right_pct"] == 100.0 and tune["cut_ins_all"] == 0
    assert "cores" in report["machine"]


@pytest.mark.e2e
def test_a_caller_whose_number_is_never_heard_right_is_asked_for_the_keypad_and_served(tmp_path):
    """A caller whose order number the voice keeps getting wrong (it reads 11111 for its 45678,
    as a misheard caller repeats the same sounds): after the second failed try the bot asks for
    the keypad instead of offering a person; the caller keys it (DTMF through the pipeline's
    keypad entry) and the order is looked up."""
    (tmp_path / "set.yaml").write_text(
        "voices:\n  piper: {engine: piper, rate: 1.0}\n"
        "tune:\n  - id: kp-number\n    intent: order_status\n    voice: piper\n"
        "    opening: \"Where is my order?\"\n    order: {digits: \"45678\", say: \"one one one one one\"}\n")
    out = tmp_path / "eval.json"
    assert main(["eval", "callers", "--set", str(tmp_path / "set.yaml"), "--cache", str(tmp_path / "audio"),
                 "--json", str(out)]) == 0
    c = json.loads(out.read_text())["calls"][0]
    assert c["outcome"] == "bot_resolved" and c["routed_right"] and c["cut_ins"] == 0
    asked = next(i for i, b in enumerate(c["bot"]) if b.endswith("Please use the keypad for your order number."))
    assert not any("person" in b for b in c["bot"][:asked + 1])  # the keypad came before any offer of a person
    assert any(s["action"] == "order_lookup" and s["detail"] == "order 45678" and s["result"].startswith("found")
               for s in c["steps"])
