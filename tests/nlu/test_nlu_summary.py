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
