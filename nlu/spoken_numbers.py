"""Numbers as callers say them and as ASR writes them down.

Two readings are needed. Identifiers (order numbers, account ids, card
numbers) are digit strings said digit by digit, in pairs ("forty five sixty
seven"), with "oh" for zero and "double"/"triple" for repeats. Quantities
(amounts, years, days) are cardinals ("a hundred and twenty"). Everything
here is a pure function over a token list with character spans, so callers
can replace a span (redaction) or read its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    "zero": 0, "oh": 0, "o": 0, "nought": 0, "nil": 0,
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9,
}
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
REPEATERS = {"double": 2, "triple": 3, "treble": 3}
# ASR homophones of digits; read as digits only between two digit tokens.
HOMOPHONES = {"to": 2, "too": 2, "for": 4, "fore": 4, "won": 1, "ate": 8, "tree": 3}
# Noise that may interrupt a digit run without ending it.
RUN_FILLERS = {"um", "uh", "er", "erm", "umm", "uhh", "and", "dash", "hyphen", "space"}

_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)\b|\d+|[a-z]+(?:'[a-z]+)?", re.IGNORECASE)


@dataclass(frozen=True)
class Token:
    text: str  # lower-cased
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Word and digit tokens with their character spans in ``text``."""
    return [Token(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _is_digitish(tok: str) -> bool:
    return tok.isdigit() or tok in UNITS or tok in TEENS or tok in TENS or tok in REPEATERS


@dataclass(frozen=True)
class DigitRun:
    """A maximal run of digits said or written in a row."""

    digits: str
    start: int  # character span in the original text
    end: int
    first_token: int  # token indices, end exclusive
    last_token: int


def run_digits(toks: list[str]) -> str | None:
    """Digits of a token run read as an identifier, or None if it is not one."""
    out: list[str] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if t in RUN_FILLERS:
            i += 1
            continue
        if t.isdigit():
            out.append(t)
            i += 1
        elif t in REPEATERS:
            if i + 1 < n and (toks[i + 1] in UNITS or (toks[i + 1].isdigit() and len(toks[i + 1]) == 1)):
                d = str(UNITS.get(toks[i + 1], toks[i + 1]))
                out.append(d * REPEATERS[t])
                i += 2
            else:
                return None
        elif t in UNITS or t in HOMOPHONES:
            val = UNITS.get(t, HOMOPHONES.get(t))
            if i + 1 < n and toks[i + 1] == "hundred":
                # "five hundred" → 500, "five hundred twenty" → 520
                rest = ""
                j = i + 2
                if j < n and (toks[j] in TENS or toks[j] in TEENS):
                    rest, j = _two_digit(toks, j)
                elif j < n and toks[j] == "and" and j + 1 < n and (toks[j + 1] in TENS or toks[j + 1] in TEENS or toks[j + 1] in UNITS):
                    if toks[j + 1] in UNITS:
                        rest, j = f"0{UNITS[toks[j + 1]]}", j + 2
                    else:
                        rest, j = _two_digit(toks, j + 1)
                out.append(f"{val}{rest or '00'}")
                i = j
            else:
                out.append(str(val))
                i += 1
        elif t in TEENS or t in TENS:
            s, i = _two_digit(toks, i)
            out.append(s)
        else:
            return None
    return "".join(out) or None


def _two_digit(toks: list[str], i: int) -> tuple[str, int]:
    t = toks[i]
    if t in TEENS:
        return str(TEENS[t]), i + 1
    v = TENS[t]
    if i + 1 < len(toks) and toks[i + 1] in UNITS and toks[i + 1] not in ("oh", "o", "zero", "nought", "nil"):
        return str(v + UNITS[toks[i + 1]]), i + 2
    return str(v), i + 1


def digit_runs(text: str, tokens: list[Token] | None = None) -> list[DigitRun]:
    """Every maximal run of spoken or written digits in ``text``, in order.

    Fillers ("um", "and", "dash") may sit inside a run; homophones ("to",
    "for") count as digits only between digit tokens; a lone "o" or "oh"
    counts only next to other digits ("oh" is also an interjection).
    """
    toks = tokens if tokens is not None else tokenize(text)
    words = [t.text for t in toks]
    runs: list[DigitRun] = []
    i = 0
    n = len(words)

    def digitish_at(k: int) -> bool:
        if k < 0 or k >= n:
            return False
        w = words[k]
        if w in ("oh", "o"):
            return (k + 1 < n and _is_digitish(words[k + 1]) and words[k + 1] not in ("oh", "o")) or (
                k > 0 and _is_digitish(words[k - 1]) and words[k - 1] not in ("oh", "o")
            )
        if w == "hundred":
            return k > 0 and (words[k - 1] in UNITS or words[k - 1] in HOMOPHONES)
        return _is_digitish(w)

    while i < n:
        if not digitish_at(i):
            i += 1
            continue
        j = i + 1
        while j < n:
            w = words[j]
            if digitish_at(j):
                j += 1
            elif (w in HOMOPHONES or w in RUN_FILLERS) and digitish_at(j + 1):
                j += 1
            elif w in RUN_FILLERS and j + 1 < n and words[j + 1] in RUN_FILLERS and digitish_at(j + 2):
                j += 2
            else:
                break
        digits = run_digits(words[i:j])
        if digits:
            runs.append(DigitRun(digits, toks[i].start, toks[j - 1].end, i, j))
        i = j
    return runs


def words_to_int(words: list[str]) -> int | None:
    """A cardinal from number words ("a hundred and twenty three" → 123)."""
    total = 0
    current = 0
    seen = False
    for w in words:
        if w == "and":
            continue
        if w in ("a", "an"):  # "a hundred"
            current = max(current, 1)
            continue
        if w.isdigit():
            current += int(w)
        elif w in UNITS and w not in ("o",):
            current += UNITS[w]
        elif w in TEENS:
            current += TEENS[w]
        elif w in TENS:
            current += TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in ("thousand", "million"):
            total += max(current, 1) * SCALES[w]
            current = 0
        else:
            return None
        seen = True
    if not seen:
        return None
    return total + current


NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | set(SCALES) - {"o"}


def is_number_word(w: str) -> bool:
    return w.isdigit() or (w in NUMBER_WORDS and w != "o")


ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
    "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30,
}


def ordinal_value(words: list[str]) -> tuple[int, int] | None:
    """Value of an ordinal at the start of ``words`` and how many words it used.

    Handles "third", "3rd", "twenty first", "thirty first", "3".
    """
    if not words:
        return None
    w = words[0]
    m = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", w)
    if m:
        return int(m.group(1)), 1
    if w in ORDINALS:
        return ORDINALS[w], 1
    if w in ("twenty", "thirty") and len(words) > 1 and words[1] in ORDINALS and ORDINALS[words[1]] < 10:
        return TENS[w] + ORDINALS[words[1]], 2
    return None


# Words a caller puts around digits that still leave the turn nothing but a number ("and the
# rest is six seven eight", "yes, four five"): such a turn may continue a number begun before.
NUMBER_CONNECTIVES = RUN_FILLERS | {
    "ok", "okay", "so", "then", "yes", "yeah", "yep", "sorry", "the", "rest", "is", "it", "it's", "its",
    "that's", "that", "last", "next", "digits", "are", "right", "well", "hmm", "um", "number",
}


def digits_only(text: str) -> str | None:
    """The digits of a turn that says nothing but a number (in one run or several), else None.

    A homophone next to a run is read as a digit here ("for five six seven eight" → 45678): the
    caller was asked for a number, so "for" at its edge is far likelier a four than a preposition.
    """
    toks = tokenize(text)
    runs = digit_runs(text, toks)
    if not runs:
        return None
    starts = {r.first_token: r for r in runs}
    inside = {i for r in runs for i in range(r.first_token, r.last_token)}
    out: list[str] = []
    i = 0
    while i < len(toks):
        if i in starts:
            out.append(starts[i].digits)
            i = starts[i].last_token
            continue
        w = toks[i].text
        if w in HOMOPHONES and (i + 1 in inside or i - 1 in inside):
            out.append(str(HOMOPHONES[w]))
        elif w not in NUMBER_CONNECTIVES:
            return None
        i += 1
    return "".join(out)


def repeat_variants(digits: str, want: int) -> list[str]:
    """Readings of ``digits`` with one repeat more or fewer in a run of a repeated digit, of
    length ``want``: ASR loses count of repeats ("seven seven seven seven" → 77777, "one one one
    one" → 11111). Only a length one off ``want`` has such readings; in order, no duplicates."""
    delta = want - len(digits)
    if delta not in (1, -1):
        return []
    out: list[str] = []
    i = 0
    while i < len(digits):
        j = i
        while j < len(digits) and digits[j] == digits[i]:
            j += 1
        if j - i >= 2:
            cand = digits[:i] + digits[i] * (j - i + delta) + digits[j:]
            if cand not in out:
                out.append(cand)
        i = j
    return out
