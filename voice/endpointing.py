"""Is the caller done? A transcript-based check that lets a turn end at a short pause.

A fixed silence long enough for a slow speaker ("my order number is ... four five six") makes
every caller wait for it. Instead the turn so far is transcribed at a short pause, and the turn
ends there only if what was said reads as finished: a sentence with its full stop, not one
that trails off on "and", "um" or "my order number is". Anything else waits for the long
silence as before. Pure functions of the text and of the other evidence at the pause (Smart
Turn's reading of the voice, what the bot has asked for): no audio, no clock.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from calls.expectation import Expectation

# Words a finished sentence does not end on: conjunctions, fillers, articles, possessives,
# prepositions, copulas and auxiliaries, and "number", which announces one.
TRAILING = frozenset(
    """
    and but or so because cause if then than that which who whose where when while although though
    um umm uh uhh er erm eh hmm ah like well
    a an the my your our their his her its this these those some any
    to of for with from at in on by about into onto as
    between without until till toward towards via during except among upon near beside within across along against per
    is are was were be been am i'm it's there's is's i we you they he she it
    can could would should will shall do does did have has had i'd i'll i've
    number numbers
    """.split()
)
# A turn made only of these is an opener ("Hi," "Hello, thank you," "Sorry to interrupt,") that
# a request usually follows; alone it still ends at the long silence. "Yes." and "No." are not.
OPENERS = frozenset(
    """hi hello hey hiya good morning afternoon evening thanks thank you there so well right
    sorry excuse me pardon to interrupt interrupting bother um uh erm hmm oh ah""".split()
)
# A clause that closes on a pronoun and a verb it leaves implied ("...than he was.", "I don't know
# where it is.", "Yes, I did.") is finished: the trailing-word rule is for "my order was" and
# "and it was", where something must follow. These are the words that lead such a clause.
ELLIPSIS_LEADS = frozenset("than as what where who whom how when whatever wherever yes yeah yep no nope".split())
SUBJECTS = frozenset("i you he she it we they".split())
CLOSING_VERBS = frozenset("is are was were am can could would should will shall do does did have has had".split())
NUMBER_CUES = frozenset("number card account code zip phone postcode reference pin".split())
# Nouns that end plenty of finished requests ("...the address on my account.") but that callers
# also pause after and go on from ("I can't log in to my account, it keeps saying..."): a turn
# ending on one is finished, given a longer pause (TurnConfig.soft_complete_ms).
SOFT_ENDINGS = frozenset("card account code zip phone postcode reference id email address".split())
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def transcript_complete(text: str) -> bool:
    """True when the transcript reads as a finished turn (so a short pause may end it)."""
    t = text.strip()
    if not t or t.endswith(("...", "…", ",", "-", ";", ":")):
        return False
    if t[-1] not in ".?!":
        return False  # Whisper punctuates what it hears as finished
    w = words(t)
    if not w or _trails_on(w) or _projects_more(w) or all(x in OPENERS for x in w):
        return False
    if w[-1].isdigit() or w[-1] in _DIGIT_WORDS:
        # "my card number is 4321 ..." : a number read in groups pauses between them.
        digits = sum(len(x) if x.isdigit() else 1 for x in w if x.isdigit() or x in _DIGIT_WORDS)
        if any(x in NUMBER_CUES for x in w) and digits < 5:
            return False
    return True


CONJUNCTIONS = frozenset("and but or so because cause if then than that which who whose where when while although though".split())
PRONOUNS = frozenset("i we you they he she it".split())
SO_VERBS = frozenset("think hope guess believe suppose imagine expect said say".split())


# Phrases that project more talk (conversation analysis calls them pre-s or projectors): a
# sentence can look finished on them ("I think." "Can you tell me?") while the speaker has only
# announced what comes next. Stalls ("one moment", "bear with me") are the same kind: the caller
# has kept the floor to look something up or think, and says so; said anywhere in an answer with
# no digit yet, the caller is fetching the number (`fetching_value`).
STALLS = ("hang on", "hold on", "let me find", "let me check", "let me look", "let me get", "let me see",
          "one moment", "one second", "one sec", "just a second", "just a sec", "just a moment", "bear with me",
          "give me a second", "give me a moment", "wait a minute", "wait a second")
PROJECTORS = ("i think", "i mean", "i guess", "you know", "tell me", "the thing is", "the problem is",
              "the question is", "i was wondering", "let me think", "let me just", *STALLS,
              # pre-announcements: the caller says a request is coming before making it
              "one more thing", "another thing", "two things", "a couple of things", "a quick question",
              "one question", "something else")
_PROJECTOR_WORDS = tuple(tuple(p.split()) for p in PROJECTORS)
AUXILIARIES = frozenset("can could would should will shall do does did is are was were am have has may might".split())
FILLERS = frozenset("um umm uh uhh er erm eh hmm ah".split())


def _projects_more(w: list[str]) -> bool:
    return any(tuple(w[-len(p):]) == p for p in _PROJECTOR_WORDS) or _bare_inversion(w)


def _bare_inversion(w: list[str]) -> bool:
    """Only an auxiliary and its subject, maybe said twice ("Can I?", "Could you, could you?"):
    the start of a question or request, restarted, whose verb is still to come."""
    core = [x for x in w if x not in FILLERS]
    return (len(core) >= 2 and len(core) % 2 == 0
            and all(a in AUXILIARIES and b in PRONOUNS for a, b in zip(core[::2], core[1::2])))


def _trails_on(w: list[str]) -> bool:
    """The last word is one a sentence goes on from. A pronoun only after a conjunction ("...and
    it", "because you"): after a verb or a preposition it is an object ("I don't have it.",
    "I called about it.") and the sentence is finished."""
    last = w[-1]
    if last in PRONOUNS:
        return len(w) == 1 or w[-2] in CONJUNCTIONS
    if last == "so" and len(w) >= 2 and w[-2] in SO_VERBS:
        return False  # "I think so.", "I hope so.": "so" stands for a clause
    return last in TRAILING and not _closes_an_ellipsis(w)


def _closes_an_ellipsis(w: list[str]) -> bool:
    """ "...than he was", "where it is", "yes I did": a lead, a subject pronoun, a closing verb."""
    return len(w) >= 3 and w[-1] in CLOSING_VERBS and w[-2] in SUBJECTS and w[-3] in ELLIPSIS_LEADS


def soft_ending(text: str) -> bool:
    """True when a finished-looking turn ends on a word callers often go on from (SOFT_ENDINGS)."""
    w = words(text)
    return bool(w) and w[-1] in SOFT_ENDINGS


_DIGIT_WORDS = frozenset("zero oh one two three four five six seven eight nine".split())
_TEENS = frozenset("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())
_TENS = frozenset("twenty thirty forty fifty sixty seventy eighty ninety".split())
_REPEATS = {"double": 2, "triple": 3, "treble": 3}
MONTHS = frozenset("""january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec""".split())
TLDS = frozenset("com org net io uk us edu gov co info biz".split())


def spoken_digits(text: str) -> int:
    """How many digits a number read out loud holds: "4 5", "four five", "forty five",
    "double seven", "oh two" all count as they are keyed. Not a parser (nlu.spoken_numbers is):
    only the count, for knowing whether the caller has finished reading an identifier. "O2" is
    Whisper's "oh two"."""
    w = _number_words(text)
    n = 0
    i = 0
    while i < len(w):
        x = w[i]
        if x.isdigit():
            n += len(x)
        elif x in _REPEATS and i + 1 < len(w) and (w[i + 1] in _DIGIT_WORDS or (w[i + 1].isdigit() and len(w[i + 1]) == 1)):
            n += _REPEATS[x]
            i += 1
        elif x in _DIGIT_WORDS or x in _TEENS:
            n += 1 if x in _DIGIT_WORDS else 2
        elif x in _TENS:
            n += 2
            if i + 1 < len(w) and w[i + 1] in _DIGIT_WORDS and w[i + 1] not in ("zero", "oh"):
                i += 1  # "forty five": two digits, not three
        i += 1
    return n


def answer_pending(text: str, expecting: Expectation | None) -> bool:
    """The bot asked for a value and the caller is part-way through giving it: fewer digits than
    the number has, a date without its year, an e-mail address without its domain's end.

    Only a partial answer holds the turn: a caller who says something else ("I don't have it
    with me.") is answered as usual, and one who gives more digits than expected has finished
    (the dialog checks the value)."""
    if expecting is None:
        return False
    w = words(text)
    if not w or text.rstrip().endswith("?"):
        return False
    if expecting.date and any(x in MONTHS for x in w):
        return not any(len(x) == 4 and x.isdigit() for x in w) and not _says_a_year(w)
    if expecting.digits:
        n = answer_digits(text)
        if 0 < n < expecting.max_digits and n not in expecting.digits and (_ends_on_digits(text) or _trails_off(text)):
            # Short of every count that completes it ("the rest or the whole"), and stopped in the
            # middle of reading it: "ten of clubs." has a number in it but is not one being read.
            return True
    if expecting.email and ("at" in w or "@" in text or "dot" in w):
        return w[-1] not in TLDS
    return False


def _number_words(text: str) -> list[str]:
    """Words with figures split from letters ("O2" -> "oh", "2"), as a number is read out."""
    return ["oh" if x == "o" else x for x in words(re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", text))]


def _ends_on_digits(text: str) -> bool:
    w = _number_words(text)
    last = w[-1] if w else ""
    return last.isdigit() or last in _DIGIT_WORDS or last in _TEENS or last in _TENS


def number_given(text: str, expecting: Expectation | None) -> bool:
    """The number the bot asked for is all there: one of the counts that complete it, or more."""
    if expecting is None or not expecting.digits:
        return False
    n = answer_digits(text)
    return n in expecting.digits or n >= expecting.max_digits


def answer_digits(text: str) -> int:
    """Digits in an answer, a sentence Whisper wrote twice counted once: its short window repeats
    what it heard ("5678. 5678." for "five six seven eight," and a pause), which must not pass
    for the eight digits of an account number while the caller is still reading it."""
    parts = [p.strip() for p in re.split(r"(?<=[.?!])\s+", text.strip()) if p.strip()]
    if len(parts) >= 2 and len({" ".join(words(p)) for p in parts}) == 1:
        return spoken_digits(parts[0])
    return spoken_digits(text)


def fetching_value(text: str, expecting: Expectation | None) -> bool:
    """A number was asked for, none has come yet, and the caller has said they are getting it
    ("Hang on, let me find the email."): the number follows once they have it."""
    if expecting is None or not expecting.digits or spoken_digits(text) > 0:
        return False
    said = " " + " ".join(words(text)) + " "
    return any(f" {s} " in said for s in STALLS)


def misheard_number(text: str, expecting: Expectation | None) -> bool:
    """A number was asked for and a few words came back with no digit in them: most often digits
    Whisper heard as words ("seven seven" as "family family", "five five five" as "time time
    time") or the start of the answer ("Yeah, it's"), rarely a whole other reply. Worth a
    hesitation's wait, not a number's."""
    if expecting is None or not expecting.digits or text.rstrip().endswith("?"):
        return False
    w = words(text)
    return 0 < len(w) <= 6 and spoken_digits(text) == 0


def _says_a_year(w: list[str]) -> bool:
    """ "nineteen eighty five", "two thousand and one" after a month: a date of birth's year."""
    return any(x in ("nineteen", "thousand") for x in w)


@dataclass(frozen=True)
class TurnEvidence:
    """What is known at a pause: the transcript of the turn so far, Smart Turn's P(complete) for
    its audio (None when not run), and what the bot is waiting for."""

    text: str
    smart_turn: float | None = None
    expecting: Expectation | None = None
    # Whisper's probability of the final stop after the last word (voice.end_reading); None when
    # not read
    whisper_stop: float | None = None
    # Whisper's mean log-probability a token of the reading (how sure it is of the words); None
    # when not known
    avg_logprob: float | None = None
    # With nothing in particular asked for: did the NLU find a request in the text (False: out of
    # scope)? None when not asked (a value was asked for, or the text does not read finished)
    understood: bool | None = None


@dataclass(frozen=True)
class EndOfTurnRule:
    """Silence (ms) a pause must reach before it ends the turn, by what the evidence says.

    Each wait is the cost of being wrong one way against the other: a finished sentence the voice
    agrees with is answered at the floor; one the voice disputes, or a transcript that trails off,
    waits long enough for a hesitation to resume (callers' filled pauses run to about a second);
    a number still being read out waits longest (groups come a second or more apart)."""

    complete_ms: int = 400  # reads finished, and the voice agrees (or was not asked)
    soft_complete_ms: int = 600  # ...but ends on "account", "card"... (SOFT_ENDINGS)
    unsure_ms: int = 800  # reads finished, but the voice sounds unfinished; or no final stop
    unfinished_ms: int = 1500  # trails off on "and", "um", "my", a comma
    pending_ms: int = 2000  # a value the bot asked for is still coming (answer_pending); groups come ~1 s apart
    voice_threshold: float = 0.5  # Smart Turn P(complete) below which the voice disputes "finished"
    # Whisper's own P(a final stop after the last word) (voice.end_reading) below which a
    # finished-looking transcript is doubted: its stop was a narrow choice over a comma or more
    # words, which is how a pause mid-sentence reads ("I want to move." at 0.37 for "I want to
    # move, uh, my delivery"). Doubted, it waits like a trailing-off one. Read off the tune half of
    # `ivr eval turns`: P(stop) alone beat P(stop) x P(end of text) at every cut-off rate (0.7: 5.4 %
    # of turns cut with 79 % of real ends at the floor; the product at 0.5: 4.8 % with 70 %). 0.8
    # was measured in the fifth round: fewer cuts everywhere, but on the held-out voices (heard
    # worse, so surer of fewer stops) only 42 % of real ends at the floor, a p50 wait of 1.5 s.
    stop_threshold: float = 0.7
    doubted_ms: int = 1500
    # A finished-looking reading Whisper is unsure of the words of (mean log-probability a token
    # below this) is doubted too: on voices it hears badly a pause's half sentence comes back as
    # other words that happen to close ("I'm trying to hurt." for "I'm trying to, uh,"). Read off
    # the tune half of `ivr eval turns`: -0.8 cut 4.2 % of turns instead of 5.4 % with 76 % of
    # real ends at the floor instead of 79 %; higher gates cost floor and cut no fewer.
    unsure_logprob: float = -0.8
    # P(stop) judged against how sure Whisper is of the reading's words: doubted when
    # log P(stop) - k x avg_logprob < log(stop_threshold), since on a voice it hears worse every
    # token is less sure, the stop included. Measured in the sixth round (`ivr eval turns`' row
    # "P(stop) against the words' certainty"); 0: off. On the tune half no k > 0 cut fewer turns at
    # the same share of real ends at the floor (k 0.5 at threshold 0.8: 4.8 % cut, 79 % at the floor,
    # against 0.7 alone's 4.2 % and 76 %), and held out it cut more (17.3 % against 13.8 %): the
    # half sentences of badly heard voices gain as much as their real ends. It ships off.
    stop_relative_k: float = 0.0
    # A finished-looking turn the NLU finds no request in ("I order the lamp end." for "I ordered
    # a lamp and,") waits `doubted_ms` too: the bot could only ask again, and asking again is not
    # worth talking over a caller who was about to go on.
    doubt_not_understood: bool = False

    def doubted(self, ev: TurnEvidence) -> bool:
        """A finished-looking turn held back only by Whisper's doubt (of its stop or its words).
        `ivr eval turns` reads these again with the silence grown (`late_reads`): P(stop) does
        not move with it, so the doubt is not read again live."""
        if not self.reads_stop(ev.text, ev.expecting) or (ev.smart_turn is not None and ev.smart_turn < self.voice_threshold):
            return False
        return self._whisper_doubts(ev)

    def _whisper_doubts(self, ev: TurnEvidence) -> bool:
        """Whisper's stop was a narrow choice, or it was unsure of the words."""
        stop = ev.whisper_stop
        if stop is not None and self.stop_relative_k and ev.avg_logprob is not None:
            stop = min(1.0, stop * math.exp(-self.stop_relative_k * ev.avg_logprob))
        return ((stop is not None and stop < self.stop_threshold)
                or (ev.avg_logprob is not None and ev.avg_logprob < self.unsure_logprob))

    def reads_stop(self, text: str, expecting: Expectation | None = None) -> bool:
        """Whether `silence_ms` can consult Whisper's P(stop) for this text: it reads finished and
        no number rule decides first. Elsewhere the end reading (a decoder pass, ~57 ms) is not
        worth making (`SpeechModels` asks this before it makes one)."""
        if self.stop_threshold <= 0.0 or answer_pending(text, expecting) or number_given(text, expecting):
            return False
        return not fetching_value(text, expecting) and not misheard_number(text, expecting) and transcript_complete(text)

    def silence_ms(self, ev: TurnEvidence) -> int:
        if answer_pending(ev.text, ev.expecting):
            return self.pending_ms
        if number_given(ev.text, ev.expecting):
            # All the digits asked for: finished, however Whisper punctuated it ("4, 5, 6, 7, 8...",
            # "It's 7 7 2 2 2" with no stop).
            return self.complete_ms
        if fetching_value(ev.text, ev.expecting):
            return self.pending_ms
        if misheard_number(ev.text, ev.expecting):
            # ...and one that trails off has not got to the number yet ("Yeah, it's...").
            return self.pending_ms if _trails_off(ev.text) else self.unfinished_ms
        if transcript_complete(ev.text):
            if ev.smart_turn is not None and ev.smart_turn < self.voice_threshold:
                return self.unsure_ms
            if self._whisper_doubts(ev):
                return max(self.doubted_ms, self.soft_complete_ms if soft_ending(ev.text) else self.complete_ms)
            if ev.understood is False and self.doubt_not_understood:
                return self.doubted_ms  # nothing to act on yet: a re-prompt is not worth a cut-in
            return self.soft_complete_ms if soft_ending(ev.text) else self.complete_ms
        if _trails_off(ev.text):
            return self.unfinished_ms
        return self.unsure_ms


def _trails_off(text: str) -> bool:
    """Unfinished by its last word or mark, not merely unpunctuated ("4 3 2 1" often comes back
    with no stop): "and", "um", "my", "to", a comma, an ellipsis."""
    t = text.strip()
    if not t:
        return False
    if t.endswith(("...", "…", ",", "-", ";", ":")):
        return True
    w = words(t)
    return bool(w) and (_trails_on(w) or _projects_more(w))
