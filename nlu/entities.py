"""Entities from spoken text: identifiers, amounts, dates and e-mail addresses.

All pure functions of the transcript (and, for relative dates, of "today"),
so they are tested without audio or models. Values come back normalised:
digit strings, ``Decimal`` amounts with an ISO currency, ``datetime.date``,
lower-case e-mail addresses.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from .spoken_numbers import (
    REPEATERS,
    TENS,
    TEENS,
    UNITS,
    digit_runs,
    is_number_word,
    ordinal_value,
    run_digits,
    tokenize,
    words_to_int,
)

# ---------------------------------------------------------------- identifiers

_ORDER_CUES = ("order", "tracking", "parcel", "package", "delivery", "reference")
_ACCOUNT_CUES = ("account", "customer", "membership", "member")


@dataclass(frozen=True)
class Identifier:
    digits: str
    kind: str  # "order", "account" or "number" when the caller named neither
    start: int
    end: int


def identifiers(text: str, min_digits: int = 3) -> list[Identifier]:
    """Digit runs of at least ``min_digits``, labelled by the nearest cue word before them."""
    toks = tokenize(text)
    out: list[Identifier] = []
    for run in digit_runs(text, toks):
        if len(run.digits) < min_digits:
            continue
        kind = "number"
        for k in range(run.first_token - 1, max(-1, run.first_token - 6), -1):
            w = toks[k].text
            if w in _ORDER_CUES:
                kind = "order"
                break
            if w in _ACCOUNT_CUES:
                kind = "account"
                break
        out.append(Identifier(run.digits, kind, run.start, run.end))
    return out


# ------------------------------------------------------------------- amounts

_CURRENCY_WORDS = {
    "dollar": "USD", "dollars": "USD", "bucks": "USD", "buck": "USD",
    "pound": "GBP", "pounds": "GBP", "quid": "GBP",
    "euro": "EUR", "euros": "EUR",
}
_MINOR_WORDS = {"cent", "cents", "pence", "p", "penny"}
_SYMBOLS = {"$": "USD", "£": "GBP", "€": "EUR"}


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str  # ISO 4217; the default currency when the caller named none

    def __str__(self) -> str:
        return f"{self.value:.2f} {self.currency}"


def _number_span(words: list[str], end: int) -> int:
    """Start index of the number words that end just before ``end``."""
    i = end
    while i > 0 and (is_number_word(words[i - 1]) or (words[i - 1] in ("and", "a") and i - 1 > 0 and is_number_word(words[i - 2]))):
        i -= 1
    # "a hundred": a leading "a" before a scale word
    if i > 0 and words[i - 1] in ("a", "an") and i < end and words[i] in ("hundred", "thousand"):
        i -= 1
    return i


def _cardinal_after(words: list[str], start: int) -> tuple[int | None, int]:
    j = start
    while j < len(words) and (is_number_word(words[j]) or (words[j] == "and" and j + 1 < len(words) and is_number_word(words[j + 1]))):
        j += 1
    if j == start:
        return None, start
    return words_to_int(words[start:j]), j


def amounts(text: str, default_currency: str = "USD") -> list[Amount]:
    """Money amounts: "$42.50", "forty two dollars fifty", "twelve pounds and 5 pence"."""
    found: list[Amount] = []
    for m in re.finditer(r"([$£€])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?", text):
        whole = m.group(2).replace(",", "")
        cents = (m.group(3) or "0").ljust(2, "0")
        found.append(Amount(Decimal(f"{whole}.{cents}"), _SYMBOLS[m.group(1)]))
    if found:
        return found
    words = [t.text for t in tokenize(text.replace(",", ""))]
    # "42.50 dollars" survives tokenisation as 42 / 50: re-read it from the raw text.
    for m in re.finditer(r"(\d+)\.(\d{1,2})\s*(dollars?|pounds?|euros?|bucks)", text, re.IGNORECASE):
        found.append(Amount(Decimal(f"{m.group(1)}.{m.group(2).ljust(2, '0')}"), _CURRENCY_WORDS[m.group(3).lower()]))
    if found:
        return found
    i = 0
    while i < len(words):
        w = words[i]
        if w in _CURRENCY_WORDS:
            start = _number_span(words, i)
            major = words_to_int(words[start:i]) if start < i else None
            if major is None:
                i += 1
                continue
            cur = _CURRENCY_WORDS[w]
            minor, j = 0, i + 1
            k = j + 1 if j < len(words) and words[j] == "and" else j
            val, nxt = _cardinal_after(words, k)
            if val is not None and val < 100:
                minor, j = val, nxt
                if j < len(words) and words[j] in _MINOR_WORDS:
                    j += 1
            found.append(Amount(Decimal(major) + Decimal(minor) / 100, cur))
            i = j
        elif w in _MINOR_WORDS and w != "p":
            start = _number_span(words, i)
            minor = words_to_int(words[start:i]) if start < i else None
            if minor is not None:
                found.append(Amount(Decimal(minor) / 100, default_currency))
            i += 1
        else:
            i += 1
    return found


# --------------------------------------------------------------------- dates

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}


def _year_at(words: list[str], i: int) -> tuple[int | None, int]:
    """A year at ``words[i]``: "1985", "nineteen eighty five", "two thousand and one", "twenty ten"."""
    if i >= len(words):
        return None, i
    w = words[i]
    if re.fullmatch(r"\d{4}", w):
        return int(w), i + 1
    if w in TEENS or w in TENS or w == "twenty":
        head = TEENS.get(w, TENS.get(w))
        if head is None or not (10 <= head <= 20 or head == 20):
            return None, i
        j = i + 1
        if j < len(words) and words[j] in ("oh", "o") and j + 1 < len(words) and words[j + 1] in UNITS:
            return head * 100 + UNITS[words[j + 1]], j + 2
        if j < len(words) and words[j] in TENS:
            tail = TENS[words[j]]
            j += 1
            if j < len(words) and words[j] in UNITS and words[j] not in ("oh", "o", "zero"):
                tail += UNITS[words[j]]
                j += 1
            return head * 100 + tail, j
        if j < len(words) and words[j] in TEENS:
            return head * 100 + TEENS[words[j]], j + 1
        return None, i
    if w == "two" and i + 1 < len(words) and words[i + 1] == "thousand":
        j = i + 2
        if j < len(words) and words[j] == "and":
            j += 1
        val, nxt = _cardinal_after(words, j)
        if val is not None and val < 100:
            return 2000 + val, nxt
        return 2000, i + 2
    return None, i


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _future(today: date, m: int, d: int, prefer_past: bool) -> date | None:
    """Month/day without a year: the nearest future occurrence (or past, for birthdays)."""
    cand = _safe_date(today.year, m, d)
    if cand is None:
        return None
    if prefer_past:
        return cand if cand <= today else _safe_date(today.year - 1, m, d)
    return cand if cand >= today else _safe_date(today.year + 1, m, d)


def parse_date(text: str, today: date | None = None, prefer_past: bool = False) -> date | None:
    """The first date in ``text``, resolved against ``today``.

    "today", "tomorrow", "yesterday", "next tuesday", "last friday",
    "march third", "the third of march", "3rd march 2026", "the 5th",
    "fourth of july nineteen eighty five", ISO "2026-03-03".
    """
    today = today or date.today()
    m = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    if m:
        return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    words = [t.text for t in tokenize(text)]
    for i, w in enumerate(words):
        if w == "today":
            return today
        if w == "tomorrow":
            return today + timedelta(days=1)
        if w == "yesterday":
            return today - timedelta(days=1)
        if w in WEEKDAYS:
            prev = words[i - 1] if i > 0 else ""
            delta = (WEEKDAYS[w] - today.weekday()) % 7
            if prev == "last" or (prefer_past and prev != "next"):
                back = (today.weekday() - WEEKDAYS[w]) % 7 or 7
                return today - timedelta(days=back)
            if prev == "next" and delta == 0:
                delta = 7
            return today + timedelta(days=delta)
        if w in MONTHS and not (w == "may" and not _month_context(words, i)):
            month = MONTHS[w]
            # "march third" / "march 3rd" / "march the third"
            j = i + 1
            if j < len(words) and words[j] == "the":
                j += 1
            ov = ordinal_value(words[j:])
            day = None
            if ov and 1 <= ov[0] <= 31:
                day, j = ov[0], j + ov[1]
            else:
                # "the third of march": ordinal before the month
                k = i - 1
                if k >= 0 and words[k] == "of":
                    k -= 1
                for span in (2, 1):
                    if k - span + 1 >= 0:
                        ov2 = ordinal_value(words[k - span + 1 : k + 1])
                        if ov2 and ov2[1] == span and 1 <= ov2[0] <= 31:
                            day = ov2[0]
                            break
                j = i + 1
            if day is None:
                continue
            year, _ = _year_at(words, j)
            if year is not None:
                return _safe_date(year, month, day)
            return _future(today, month, day, prefer_past)
        if w == "the" and i + 1 < len(words):
            ov = ordinal_value(words[i + 1 :])
            if ov and _is_ordinal_word(words[i + 1]) and 1 <= ov[0] <= 31:
                nxt = i + 1 + ov[1]
                if nxt < len(words) and words[nxt] == "of":
                    continue  # "the third of march": handled at the month
                cand = _safe_date(today.year, today.month, ov[0])
                if cand is None or (cand < today and not prefer_past):
                    nm = today.month % 12 + 1
                    cand = _safe_date(today.year + (today.month == 12), nm, ov[0])
                return cand
    return None


def _is_ordinal_word(w: str) -> bool:
    return bool(re.fullmatch(r"\d{1,2}(st|nd|rd|th)", w)) or ordinal_value([w]) is not None and not w.isdigit()


def _month_context(words: list[str], i: int) -> bool:
    """"may" is a month only next to a day number ("may fifth", "the 5th of may")."""
    nxt = words[i + 1 : i + 3]
    prev = words[max(0, i - 2) : i]
    return bool((nxt and ordinal_value(nxt)) or (prev and prev[-1] == "of"))


# -------------------------------------------------------------------- e-mail

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CONNECTORS = {"dot": ".", "period": ".", "point": ".", "underscore": "_", "dash": "-", "hyphen": "-", "minus": "-"}
_TLDS = {"com", "org", "net", "edu", "gov", "io", "co", "uk", "us", "de", "fr", "info", "biz", "me", "ai", "ca", "au"}
_STOP = {"is", "its", "it's", "my", "email", "e", "mail", "address", "the", "at", "and", "so", "um", "uh", "it"}
_DIGITS_EMAIL = {k: str(v) for k, v in UNITS.items() if k not in ("o", "oh")}


def _email_piece(w: str) -> str:
    if w in _CONNECTORS:
        return _CONNECTORS[w]
    if w in _DIGITS_EMAIL:
        return _DIGITS_EMAIL[w]
    return w


def _is_char(w: str) -> bool:
    return (len(w) == 1 and w.isalnum()) or w in _DIGITS_EMAIL or w in TENS or w in TEENS or w in REPEATERS


def _render(pieces: list[str]) -> str:
    """Join spelled pieces; runs of number words become digits ("twenty three" → "23")."""
    out: list[str] = []
    i = 0
    while i < len(pieces):
        if pieces[i] in _DIGITS_EMAIL or pieces[i] in TENS or pieces[i] in TEENS or pieces[i] in REPEATERS:
            j = i
            while j < len(pieces) and (pieces[j] in _DIGITS_EMAIL or pieces[j] in TENS or pieces[j] in TEENS or pieces[j] in REPEATERS or (pieces[j].isdigit())):
                j += 1
            digits = run_digits(pieces[i:j])
            out.append(digits if digits is not None else "".join(pieces[i:j]))
            i = j
        else:
            out.append(_email_piece(pieces[i]))
            i += 1
    return "".join(out)


def spelled_email(text: str) -> str | None:
    """An e-mail address written or spelled out ("john dot smith at example dot com")."""
    m = _EMAIL_RE.search(text)
    if m:
        return m.group(0).lower().rstrip(".")
    text = re.sub(r"@", " at ", text)
    text = re.sub(r"(?<=\w)\.(?=\w)", " dot ", text)
    words = [t.text for t in tokenize(text)]
    # "double l" → "l l"
    expanded: list[str] = []
    k = 0
    while k < len(words):
        if words[k] == "double" and k + 1 < len(words) and len(words[k + 1]) == 1:
            expanded += [words[k + 1]] * 2
            k += 2
        else:
            expanded.append(words[k])
            k += 1
    words = expanded
    for i, w in enumerate(words):
        if w not in ("at",) or i == 0:
            continue
        if i + 1 < len(words) and words[i + 1] == "sign":
            dom_start = i + 2
        else:
            dom_start = i + 1
        local = _local_part(words[:i])
        domain = _domain_part(words[dom_start:])
        if local and domain:
            return f"{local}@{domain}"
    return None


def _local_part(words: list[str]) -> str | None:
    """Walk back from "at" over one chunk, continuing across connectors and spelled letters."""
    i = len(words) - 1
    pieces: list[str] = []
    while i >= 0:
        w = words[i]
        if w in _STOP and not pieces:
            return None
        if w in _STOP:
            break
        pieces.append(w)
        prev = words[i - 1] if i > 0 else None
        if w in _CONNECTORS:
            i -= 1
            continue
        if prev is None:
            break
        if prev in _CONNECTORS:
            i -= 1
            continue
        if _is_char(w) and (_is_char(prev) or (len(w) > 1 and prev not in _STOP)):
            i -= 1  # spelled letters, or a word with spoken digits after it ("doe twenty three")
            continue
        break
    if not pieces or pieces[-1] in _CONNECTORS:
        return None
    return _render(list(reversed(pieces)))


def _domain_part(words: list[str]) -> str | None:
    labels: list[str] = []
    cur: list[str] = []
    for i, w in enumerate(words):
        if w in ("dot", "period", "point"):
            if not cur:
                return None
            labels.append(_render(cur))
            cur = []
            continue
        if cur and not (_is_char(w) and _is_char(cur[-1])) and w not in ("dash", "hyphen") and cur[-1] not in ("dash", "hyphen"):
            break
        cur.append(w)
        if labels and w in _TLDS and (i + 1 >= len(words) or words[i + 1] not in ("dot", "period", "point")):
            break
    if cur:
        labels.append(_render(cur))
    if len(labels) < 2:
        return None
    return ".".join(labels)


# ------------------------------------------------------------------ together


@dataclass
class Entities:
    """Everything extracted from one turn."""

    order_number: str | None = None
    account_id: str | None = None
    numbers: list[str] = field(default_factory=list)
    amount: Amount | None = None
    date: date | None = None
    email: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["amount"] = str(self.amount) if self.amount else None
        d["date"] = self.date.isoformat() if self.date else None
        return {k: v for k, v in d.items() if v not in (None, [])}


def extract_entities(text: str, today: date | None = None, default_currency: str = "USD") -> Entities:
    """All entities of one caller turn."""
    ents = Entities()
    for ident in identifiers(text):
        ents.numbers.append(ident.digits)
        if ident.kind == "order" and ents.order_number is None:
            ents.order_number = ident.digits
        elif ident.kind == "account" and ents.account_id is None:
            ents.account_id = ident.digits
    found = amounts(text, default_currency)
    ents.amount = found[0] if found else None
    ents.date = parse_date(text, today)
    ents.email = spelled_email(text)
    return ents
