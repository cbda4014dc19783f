"""The complete-transcript check that lets a turn end at a short pause."""

import pytest

from voice.endpointing import soft_ending, transcript_complete


@pytest.mark.parametrize("text", [
    "I need to check on an order I placed last week.",
    "What time do you open on Saturday?",
    "Yes.",
    "No, thanks.",
    "The order number is four five six seven eight.",
    "My account number is 12345678.",
    "It keeps saying my password is wrong!",
    "I'd like to change the address on my account.",
    "I lost my card.",
    # a clause that leaves its verb implied closes on "was", "is", "did"...
    "He might have been more respectable than he was.",
    "I don't know where it is.",
    "Yes, it is.",
    "Yes, I did.",
    "That's not what it was.",
])
def test_finished_turns(text):
    assert transcript_complete(text)


@pytest.mark.parametrize("text", [
    "",
    "I need to check on an order and",
    "I need to check on an order, and...",
    "My order number is",
    "My order number is...",
    "I was charged twice, um.",
    "Can you tell me about the",
    "I'd like to change the address on my",
    "Hi.",
    "Hello, thank you.",
    "Sorry to interrupt.",  # an opener: the request follows
    "Oh, excuse me.",
    "So, well,",
    "My card number is 4321.",  # read in groups: more is coming
    "it was a pair of running shoes",  # Whisper punctuates what it hears as finished
    "I called yesterday and it was.",  # "it was" after "and": something follows
    "My order was.",
    "The thing is.",
    "What I want to know is.",
])
def test_unfinished_turns(text):
    assert not transcript_complete(text)


def test_soft_endings_are_finished_but_flagged():
    assert transcript_complete("I can't log in to my account.") and soft_ending("I can't log in to my account.")
    assert transcript_complete("I lost my card.") and soft_ending("I lost my card.")
    assert not soft_ending("I think I was charged twice this month.")


# -- what the bot is waiting for, and the silence each kind of evidence needs ----------------------
from calls.expectation import Expectation  # noqa: E402
from voice.endpointing import (  # noqa: E402
    EndOfTurnRule,
    TurnEvidence,
    answer_pending,
    misheard_number,
    spoken_digits,
)

ORDER = Expectation("order_number", digits=(5,), keypad=True)
ACCOUNT = Expectation("account_id", digits=(8,), email=True, keypad=True)
PIN = Expectation("pin_or_date", digits=(4,), date=True, keypad=True)
RULE = EndOfTurnRule()


@pytest.mark.parametrize("text, n", [
    ("4 5", 2), ("45678.", 5), ("four five, six seven", 4), ("forty five sixty", 4),
    ("double seven two two two", 5), ("oh two four", 3), ("twelve", 2), ("I don't have it.", 0),
    ("One one one one.", 4), ("1 2 3 4 5 6 7 8", 8),
])
def test_spoken_digits_counts_as_keyed(text, n):
    assert spoken_digits(text) == n


@pytest.mark.parametrize("text, expecting, pending", [
    ("Four five.", ORDER, True),  # two of five digits: the next group is coming
    ("Four five six seven eight.", ORDER, False),
    ("It's 4 5 6 7 8 9.", ORDER, False),  # more than expected: finished, the dialog checks it
    ("I don't have it with me.", ORDER, False),  # another answer: the usual rules
    ("Is it the one on the receipt?", ORDER, False),  # a question back
    ("One two three four.", ACCOUNT, True),
    ("Alice dot johnson at example", ACCOUNT, True),  # an e-mail address without its end
    ("alice dot johnson at example dot com.", ACCOUNT, False),
    ("The fourth of July.", PIN, True),  # a date of birth without its year
    ("The fourth of July, 1985.", PIN, False),
    ("The fourth of July, nineteen eighty five.", PIN, False),
    ("Four three.", PIN, True),
    ("Four three two one.", PIN, False),
    ("Four five.", None, False),  # nothing was asked
    ("Ten of clubs.", ORDER, False),  # a number in it, but not one being read out
    ("Four five and", ORDER, True),
    ("5678. 5678.", ACCOUNT, True),  # Whisper's repetition of one group is not eight digits
    ("One O2.", Expectation("order_number", digits=(1, 5), keypad=True), True),  # the rest is 1, or all 5
    ("Two.", Expectation("order_number", digits=(1, 5), keypad=True), False),
])
def test_answer_pending(text, expecting, pending):
    assert answer_pending(text, expecting) is pending


def test_a_few_words_with_no_digit_after_a_number_was_asked_for_may_be_misheard_digits():
    assert misheard_number("It's family family.", ORDER)
    assert misheard_number("Yeah, it's", ORDER)
    assert not misheard_number("It's family family.", None)
    assert not misheard_number("Sorry, where do I find that?", ORDER)
    assert not misheard_number("I'm afraid I don't have the number here.", ORDER)


@pytest.mark.parametrize("evidence, wait", [
    (TurnEvidence("I'd like to check my order."), RULE.complete_ms),
    (TurnEvidence("I'd like to change the address on my account."), RULE.soft_complete_ms),
    (TurnEvidence("I want to move, uh..."), RULE.unfinished_ms),
    (TurnEvidence("My order number is"), RULE.unfinished_ms),
    (TurnEvidence("4 3 2 1"), RULE.unsure_ms),  # no stop, nothing trailing
    (TurnEvidence("Four five.", expecting=ORDER), RULE.pending_ms),
    (TurnEvidence("Four five six seven eight.", expecting=ORDER), RULE.complete_ms),
    (TurnEvidence("4, 5, 6, 7, 8...", expecting=ORDER), RULE.complete_ms),  # all the digits: done
    (TurnEvidence("It's 7 7 2 2 2", expecting=ORDER), RULE.complete_ms),
    (TurnEvidence("It's family family.", expecting=ORDER), RULE.unfinished_ms),
    (TurnEvidence("Yeah, it's...", expecting=ORDER), RULE.pending_ms),  # not at the number yet
    (TurnEvidence("I think."), RULE.unfinished_ms),  # a projector: more is announced
    (TurnEvidence("I'd like to file a formal complaint, eh?"), RULE.unfinished_ms),  # a filler, however punctuated
    (TurnEvidence("Can you tell me?"), RULE.unfinished_ms),
    (TurnEvidence("I'd like to check my order.", smart_turn=0.9), RULE.complete_ms),
    (TurnEvidence("I want to move.", smart_turn=0.01), RULE.unsure_ms),  # the voice disputes it
])
def test_end_of_turn_rule_waits_by_evidence(evidence, wait):
    assert RULE.silence_ms(evidence) == wait


def test_a_full_stop_whisper_was_unsure_of_is_doubted():
    sure = TurnEvidence("I want to move.", whisper_stop=0.95)
    narrow = TurnEvidence("I want to move.", whisper_stop=0.05)
    assert RULE.silence_ms(sure) == RULE.complete_ms
    assert RULE.silence_ms(narrow) == RULE.doubted_ms > RULE.complete_ms
    # only a finished-looking transcript is doubted: the others wait as before
    assert RULE.silence_ms(TurnEvidence("I want to move, uh...", whisper_stop=0.05)) == RULE.unfinished_ms
    assert RULE.silence_ms(TurnEvidence("Four five.", expecting=ORDER, whisper_stop=0.99)) == RULE.pending_ms
    assert EndOfTurnRule(stop_threshold=0.0).silence_ms(narrow) == RULE.complete_ms  # off


def test_words_whisper_was_unsure_of_are_doubted_even_with_a_sure_stop():
    """A confident stop after words Whisper was unsure of (a voice it hears badly, a half sentence
    read as other words) waits like a doubted stop; a sure reading does not."""
    unsure = TurnEvidence("I'm going to fly.", whisper_stop=0.95, avg_logprob=-1.1)
    sure = TurnEvidence("I'm going to fly.", whisper_stop=0.95, avg_logprob=-0.2)
    assert RULE.silence_ms(unsure) == RULE.doubted_ms
    assert RULE.silence_ms(sure) == RULE.complete_ms
    assert RULE.silence_ms(TurnEvidence("I'm going to fly.")) == RULE.complete_ms  # not known: not doubted
    # a number the bot asked for, all there, is not held back by it
    assert RULE.silence_ms(TurnEvidence("4 5 6 7 8.", expecting=ORDER, avg_logprob=-1.5)) == RULE.complete_ms
    assert EndOfTurnRule(unsure_logprob=float("-inf")).silence_ms(unsure) == RULE.complete_ms  # off


def test_a_stop_judged_against_the_words_certainty_is_doubted_less_on_a_voice_heard_worse():
    """stop_relative_k (measured, off): P(stop) x exp(-k x avg_logprob) against the threshold, so
    a stop read among unsure words counts for more; off, P(stop) alone decides."""
    rel = EndOfTurnRule(stop_relative_k=0.5, stop_threshold=0.8)
    heard_worse = TurnEvidence("I want to move.", whisper_stop=0.6, avg_logprob=-0.7)  # 0.6 x e^0.35 = 0.85
    heard_well = TurnEvidence("I want to move.", whisper_stop=0.6, avg_logprob=-0.1)  # 0.6 x e^0.05 = 0.63
    assert rel.silence_ms(heard_worse) == RULE.complete_ms
    assert rel.silence_ms(heard_well) == RULE.doubted_ms
    assert EndOfTurnRule(stop_threshold=0.8).silence_ms(heard_worse) == RULE.doubted_ms  # k 0: as shipped


def test_a_caller_fetching_the_number_asked_for_is_waited_for():
    fetching = TurnEvidence("Right, hold on, I'll just look it up for you.", expecting=ORDER, whisper_stop=0.95)
    assert RULE.silence_ms(fetching) == RULE.pending_ms
    # the same words with no number asked for, or once digits have come, are read as usual
    assert RULE.silence_ms(TurnEvidence("Right, hold on, I'll just look it up for you.", whisper_stop=0.95)) == RULE.complete_ms
    assert RULE.silence_ms(TurnEvidence("Hang on, it's 4 5 6 7 8.", expecting=ORDER)) == RULE.complete_ms


def test_the_waits_are_ordered_by_how_likely_more_is_coming():
    assert RULE.complete_ms < RULE.soft_complete_ms < RULE.unsure_ms < RULE.unfinished_ms < RULE.pending_ms


@pytest.mark.parametrize("text, done", [
    ("I don't have it.", True), ("I called about it.", True), ("Can you fix it?", True),
    ("I tried and it", False), ("It stopped because you", False), ("It.", False),
])
def test_a_pronoun_trails_only_after_a_conjunction(text, done):
    assert transcript_complete(text) is done


@pytest.mark.parametrize("text, done", [
    ("Is there a branch within?", False), ("I want to pay without.", False), ("It was delivered during.", False),
    ("Please put me through.", True), ("I called before.", True),
])
def test_a_preposition_with_its_object_to_come_trails(text, done):
    """Prepositions a sentence rarely ends on trail; particles that end phrasal verbs do not."""
    assert transcript_complete(text) is done


@pytest.mark.parametrize("text", ["I think.", "Can you tell me?", "The thing is.", "Hang on.", "Well, I mean.",
                                  # stalls: the caller keeps the floor to think or look something up
                                  "Right, let me see.", "Bear with me.", "Okay, give me a second.", "Um, one moment.",
                                  # an auxiliary and its subject only, restarted: the verb is to come
                                  "Could you?", "Can I, can I?", "Do you, um, do you?",
                                  # a request announced before it is made
                                  "Oh, and another thing.", "Sorry, I've got a quick question."])
def test_phrases_that_announce_more_are_not_finished(text):
    assert not transcript_complete(text)


@pytest.mark.parametrize("text", ["I think it was last Tuesday.", "Can you tell me my balance?", "I think so.",
                                  "Let me see my balance.", "Could you help?", "Yes, I can."])
def test_the_same_words_with_their_continuation_are(text):
    assert transcript_complete(text)


def test_digits_in_an_answer_with_a_sentence_of_punctuation_only():
    """A digits-only reading can end on a lone stop ("6 0 7 8 9. ."): counted, not a crash."""
    from voice.endpointing import answer_digits

    assert answer_digits("6 0 7 8 9. .") == 5
    assert answer_digits(". .") == 0
    assert answer_digits("5678. 5678.") == 4  # a sentence written twice still counts once


def _texts() -> list[str]:
    """Every transcript the tests above judge, finished or not."""
    out = []
    for fn in (test_finished_turns, test_unfinished_turns, test_answer_pending):
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "parametrize":
                out += [v if isinstance(v, str) else v[0] for v in mark.args[1]]
    return out


@pytest.mark.parametrize("expecting", [None, ORDER, ACCOUNT, PIN], ids=["nothing", "order", "account", "pin"])
def test_reads_stop_is_exactly_where_the_rule_consults_whisper_stop(expecting):
    """`SpeechModels` makes the end reading (a decoder pass) only where `reads_stop` says so: it
    must be true exactly where P(stop) can change the wait."""
    texts = _texts()
    assert len(texts) > 40
    consulted = 0
    for text in texts:
        waits = {RULE.silence_ms(TurnEvidence(text, None, expecting, p)) for p in (None, 0.0, 1.0)}
        assert RULE.reads_stop(text, expecting) is (len(waits) > 1), text
        consulted += len(waits) > 1
    assert consulted > 5  # the rule does read it for some of them
    off = EndOfTurnRule(stop_threshold=0.0)
    assert not any(off.reads_stop(t, expecting) for t in texts)


def test_a_doubt_is_whispers_alone_on_a_finished_looking_turn():
    doubted = TurnEvidence("I want to move.", whisper_stop=0.4)
    rule = EndOfTurnRule()
    assert rule.doubted(doubted) and rule.silence_ms(doubted) == rule.doubted_ms
    assert rule.doubted(TurnEvidence("I'm trying to hurt.", whisper_stop=0.9, avg_logprob=-1.2))  # unsure of the words
    assert not rule.doubted(TurnEvidence("I want to move my delivery to Friday.", whisper_stop=0.9))  # sure
    assert not rule.doubted(TurnEvidence("I want to move my", whisper_stop=0.4))  # trails off: not a doubt
    assert not rule.doubted(TurnEvidence("Four five.", whisper_stop=0.2, expecting=ORDER))  # a number pending
