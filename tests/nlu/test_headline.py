"""The whisper's headline: a few words the agent hears while the caller is on hold."""

from __future__ import annotations

import itertools

import pytest

from nlu.summary import HEADLINE_MAX_PARTS, HEADLINE_MAX_WORDS, _TOPICS, _words, build_summary, headline

CUSTOMER = {"account_id": "12345678", "name": "Alice Johnson", "tier": "gold", "phone": "+15555550101"}


def _s(intent="fraud_stolen_card", customer=CUSTOMER, verified=True, frustration=(0.9,), entities=None):
    return {"intent": intent, "customer": customer, "verified": verified, "frustration": list(frustration),
            "entities": entities or {}}


def every_headline() -> list[str]:
    """Every intent, identity, mood, reason and key entity combined."""
    out = set()
    for intent, who, fr, reason, ents in itertools.product(
        [*_TOPICS, None], [(None, False), (CUSTOMER, False), (CUSTOMER, True)], [(), (0.1,), (0.5,), (0.9,)],
        ["dtmf", "frustration", "verification_failed", "max_bot_time", "tier", "explicit_request", None],
        [{}, {"order_number": "45678"}, {"amount": "120"}, {"date": "2026-03-04"}],
    ):
        out.add(headline(_s(intent, who[0], who[1], fr, ents), reason))
    return sorted(out)


def test_the_issue_s_example():
    assert headline(_s(), "frustration") == "Stolen card, caller upset, verified account holder."


def test_who_and_why_when_there_is_room():
    assert headline(_s("order_status", None, False, ()), "dtmf") == "Order status, not identified, pressed zero."
    assert headline(_s("refund", CUSTOMER, False, (0.5,)), "frustration") == "Refund, caller annoyed, not verified."
    # a calm caller is no news: the room goes to the key fact
    assert headline(_s("refund", CUSTOMER, False, (0.1,), {"amount": "120"}), "frustration") == \
        "Refund, not verified, amount 120."
    assert headline(_s("order_status", CUSTOMER, True, (), {"order_number": "45678"}), "frustration") == \
        "Order status, verified account holder."  # the order's four digits would run past the budget


def test_the_policy_s_reason_wins_over_the_summary_s():
    s = {**_s("billing_dispute", None, False, ()), "escalation_reason": "no_input_limit"}
    assert headline(s) == "Disputed charge, not identified, went silent."
    assert headline(s, "dtmf") == "Disputed charge, not identified, pressed zero."


def test_every_headline_stays_within_the_word_and_part_budget():
    heads = every_headline()
    assert len(heads) > 100
    for h in heads:
        assert _words(h) <= HEADLINE_MAX_WORDS, h
        assert h.count(",") + 1 <= HEADLINE_MAX_PARTS, h
        assert h[0].isupper() and h.endswith(".")


def test_a_card_number_is_never_spoken():
    h = headline(_s("order_status", None, False, (), {"order_number": "4111 1111 1111 1111"}), "frustration")
    assert "1 1 1 1" not in h and "4111" not in h


def test_build_summary_carries_the_headline_for_the_pop():
    s = build_summary(intent="fraud_stolen_card", intents=["fraud_stolen_card"], entities={}, customer=CUSTOMER,
                      verified=True, steps=[], frustration=[0.8], frustration_raw=[0.9], escalation_reason="frustration",
                      transcript=[("caller", "my card was stolen")])
    assert s.headline == "Stolen card, caller upset, verified account holder."
    assert s.to_dict()["headline"] == s.headline


@pytest.fixture(scope="module")
def piper():
    from voice.models import ModelConfig, SpeechModels

    return SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))


def test_the_longest_headlines_take_about_four_seconds_with_the_real_voice(piper):
    """The bound measured with the voice the agent hears (Piper joe-medium, 8 kHz as on the
    wire): the ten longest headlines by characters, every one within 4.3 s."""
    longest = sorted(every_headline(), key=len)[-10:]
    seconds = {h: len(piper.synthesize_all(h, 8000)) / 8000 for h in longest}
    assert max(seconds.values()) <= 4.3, seconds
    # and the paragraph it replaces is far longer: what the caller used to wait through
    paragraph = ("Incoming transfer. Alice Johnson (gold customer, account 12345678, verified) called about a lost or "
                 "stolen card / fraud. Frustration high (0.80, peak 0.90). Transferred because the caller is frustrated.")
    assert len(piper.synthesize_all(paragraph, 8000)) / 8000 > 2 * max(seconds.values())
