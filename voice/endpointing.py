"""Is the caller done? A transcript-based check that lets a turn end at a short pause.

A fixed silence long enough for a slow speaker ("my order number is ... four five six") makes
every caller wait for it. Instead the turn so far is transcribed at a short pause, and the turn
ends there only if what was said reads as finished: a sentence with its full stop, not one
that trails off on "and", "um" or "my order number is". Anything else waits for the long
silence as before. Pure functions of the text: no audio, no clock.
"""

from __future__ import annotations

import re

# Words a finished sentence does not end on: conjunctions, fillers, articles, possessives,
# prepositions, copulas and auxiliaries, and "number", which announces one.
TRAILING = frozenset(
    """
    and but or so because cause if then than that which who whose where when while although though
    um umm uh uhh er erm hmm ah like well
    a an the my your our their his her its this these those some any
    to of for with from at in on by about into onto as
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
    if not w or (w[-1] in TRAILING and not _closes_an_ellipsis(w)) or all(x in OPENERS for x in w):
        return False
    if w[-1].isdigit() or w[-1] in _DIGIT_WORDS:
        # "my card number is 4321 ..." : a number read in groups pauses between them.
        digits = sum(len(x) if x.isdigit() else 1 for x in w if x.isdigit() or x in _DIGIT_WORDS)
        if any(x in NUMBER_CUES for x in w) and digits < 5:
            return False
    return True


def _closes_an_ellipsis(w: list[str]) -> bool:
    """ "...than he was", "where it is", "yes I did": a lead, a subject pronoun, a closing verb."""
    return len(w) >= 3 and w[-1] in CLOSING_VERBS and w[-2] in SUBJECTS and w[-3] in ELLIPSIS_LEADS


def soft_ending(text: str) -> bool:
    """True when a finished-looking turn ends on a word callers often go on from (SOFT_ENDINGS)."""
    w = words(text)
    return bool(w) and w[-1] in SOFT_ENDINGS


_DIGIT_WORDS = frozenset("zero oh one two three four five six seven eight nine".split())
