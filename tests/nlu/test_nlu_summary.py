"""The hand-off summary on its own."""

from __future__ import annotations

import json

from nlu.redact import CARD_MASK
from nlu.summary import Step, build_summary


def _summary(**over):
    args = dict(
        intent="order_status",
        intents=["order_status", "repeat", "speak_to_human"],
        entities={"order_number": "45678"},
        customer={"account_id": "12345678", "name": "Alice Johnson", "tier": "gold", "phone": "+15555550101"},
        verified=False,
        steps=[Step("order_lookup", "order 45678", "not_found"), Step("order_lookup", "order 45679", "not_found")],
        frustration=[0.05, 0.3, 0.74],
        frustration_raw=[0.05, 0.55, 0.93],
        escalation_reason="frustration",
        transcript=[("bot", "Hi."), ("caller", "where is my order"), ("caller", "card 4111 1111 1111 1111"),
                    ("caller", "four one one one one one one one one one one one one one one one")],
    )
    args.update(over)
    return build_summary(**args)


def test_paragraph_says_who_what_tried_and_why():
    p = _summary().paragraph
    assert p.startswith("Alice Johnson (gold customer, account 12345678, not verified) called about an order.")
    assert "order number 45678" in p
    assert "order_lookup order 45679 → not_found" in p
    assert "Frustration high (0.74, peak 0.93)" in p
    assert p.endswith("Transferred because the caller is frustrated.")


def test_unidentified_caller():
    p = _summary(customer=None, intent=None, steps=[], escalation_reason="no_match_limit").paragraph
    assert p.startswith("Unidentified caller called about an unclear request.")
    assert "was not understood repeatedly" in p


def test_transcript_is_redacted_and_counted():
    s = _summary()
    assert s.turns == 3
    texts = [t["text"] for t in s.transcript]
    assert texts[2] == f"card {CARD_MASK}" and texts[3] == CARD_MASK


def test_to_dict_is_json():
    d = _summary().to_dict()
    again = json.loads(json.dumps(d))
    assert again["steps"][0] == {"action": "order_lookup", "detail": "order 45678", "result": "not_found"}
    assert again["frustration"] == [0.05, 0.3, 0.74] and again["escalation_reason"] == "frustration"


# ------------------------------------------------------------------ the per-turn trajectory


def test_the_part_that_drove_a_turn_is_its_largest_positive_contribution():
    from nlu.fusion import drove

    assert drove({"text": 0.4, "prosody": 1.7, "dialogue": 0.2, "bias": -3.0}) == "voice"
    assert drove({"text": 2.1, "prosody": 1.7, "dialogue": 0.2, "bias": -3.0}) == "words"
    assert drove({"text": -0.5, "prosody": 0.0, "dialogue": 0.9, "bias": 5.0}) == "dialogue"  # the bias is no part
    assert drove({"text": 0.5, "prosody": 0.5, "dialogue": 0.5}) == "voice"  # a tie: voice, words, dialogue
    assert drove({"text": 0.0, "prosody": -1.0, "dialogue": 0.0, "bias": -3.0}) is None  # nothing added: calm
    assert drove(None) is None and drove({}) is None  # a turn stored without its parts
    assert drove(["text", 1.0]) is None and drove({"text": "high", "prosody": True}) is None  # junk from the store


def test_turn_trajectory_keeps_each_turns_parts_and_allows_them_missing():
    from nlu.summary import turn_trajectory

    traj = turn_trajectory([0.1, 0.8, 0.3], [0.1, 0.45, 0.375],
                           [{"text": 0.1, "prosody": 0.0, "dialogue": 0.0, "bias": -3.0},
                            {"text": 0.3, "prosody": 2.4567, "dialogue": 0.5, "bias": -3.0}])
    assert traj == [
        {"score": 0.1, "smoothed": 0.1, "parts": {"text": 0.1, "prosody": 0.0, "dialogue": 0.0, "bias": -3.0},
         "drove": "words"},
        {"score": 0.8, "smoothed": 0.45, "parts": {"text": 0.3, "prosody": 2.457, "dialogue": 0.5, "bias": -3.0},
         "drove": "voice"},
        {"score": 0.3, "smoothed": 0.375, "parts": None, "drove": None},  # no parts given for it
    ]


def test_summary_carries_the_per_turn_trajectory():
    parts = [{"text": 0.2, "prosody": 0.1, "dialogue": 0.0, "bias": -3.0},
             {"text": 0.4, "prosody": 1.9, "dialogue": 0.3, "bias": -3.0},
             {"text": 2.5, "prosody": 1.9, "dialogue": 0.9, "bias": -3.0}]
    s = _summary(frustration_parts=parts)
    assert [t["score"] for t in s.trajectory] == s.frustration_raw
    assert [t["smoothed"] for t in s.trajectory] == s.frustration
    assert [t["drove"] for t in s.trajectory] == ["words", "voice", "words"]
    d = json.loads(json.dumps(s.to_dict()))  # what the screen pop and the summary event carry
    assert d["trajectory"][1] == {"score": 0.55, "smoothed": 0.3, "parts": parts[1], "drove": "voice"}
    old = _summary()  # a caller of build_summary that gives no parts
    assert [t["parts"] for t in old.trajectory] == [None, None, None] and old.trajectory[2]["score"] == 0.93
