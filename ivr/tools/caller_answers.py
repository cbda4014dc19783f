"""What a scripted caller says back to the bot: pure functions from the bot's words to a line.

A caller answers what it was asked, as a person would: the order number when asked for one,
yes when the bot reads back its own digits and no when they are wrong, its closing to
"anything else" once it was told what it called for (else its need again), the need again when
the bot did not get it. The bot's wording is matched by
keywords, loosely, so that rewording a prompt ("say or key in your order number") does not
break the instrument that measures it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

from ivr.tools.caller_script import HANDOFF_REASONS, CallerSpec


class Ask(Enum):
    MENU = "menu"  # "Press 1 to check on an order, 2 to ... For a person, press 0."
    ANYTHING_ELSE = "anything_else"
    CONFIRM_VALUE = "confirm_value"  # digits read back: "That's order 4 5 6 7 8. Is that right?"
    CONFIRM_INTENT = "confirm_intent"  # "Just to check. You'd like to check on an order?"
    YES_OR_NO = "yes_or_no"
    PIN = "pin"
    ORDER = "order"
    ACCOUNT = "account"
    NUMBER_REST = "number_rest"  # "4 5. And the rest?": the number it was giving
    OFFER_HUMAN = "offer_human"
    HOW_CAN_I_HELP = "how_can_i_help"
    STILL_THERE = "still_there"
    UNKNOWN = "unknown"


# The question is the reply's last one (its last sentence that asks, else its last sentence), as
# a person answers what they were asked last: "Sorry, I didn't get the order number. I can put
# you through to a person. Would you like that?" is an offer, not a request for the number. When
# that says nothing these rules know ("Could you say it again?"), the whole reply is read.
# First match wins: the more specific question before the general one ("...order 4 5 6. Is that
# right?" is a confirmation, "Your order has shipped... anything else?" asks for more).
_RULES: tuple[tuple[Ask, re.Pattern], ...] = tuple((a, re.compile(p)) for a, p in (
    (Ask.MENU, r"press \d to "),
    (Ask.ANYTHING_ELSE, r"anything else|what else"),
    (Ask.CONFIRM_VALUE, r"is that (right|correct)|did i get that right"),
    (Ask.CONFIRM_INTENT, r"just to check|you'd like to|do you want to|did you want to|did you mean"),
    (Ask.YES_OR_NO, r"yes or (a )?no"),
    (Ask.PIN, r"\bpin\b|date of birth"),
    (Ask.ORDER, r"order number|\border\b.*\bagain\b"),
    (Ask.ACCOUNT, r"account number|e-?mail address|\baccount\b.*\bagain\b"),
    (Ask.NUMBER_REST, r"\bthe rest\b"),
    (Ask.OFFER_HUMAN, r"(talk|speak) to (a|an) (person|agent|human)\?|would you like that\?"
                      r"|would you like (a|an) (person|agent|human)|shall i put you through"),
    (Ask.HOW_CAN_I_HELP, r"how can i help|what can i help|didn't understand|didn't catch|you can say things like"),
    (Ask.STILL_THERE, r"are you still there"),
))


_SENTENCE = re.compile(r"(?<=[.?!])\s+")


def _match(text: str) -> Ask:
    for ask, pattern in _RULES:
        if pattern.search(text):
            return ask
    return Ask.UNKNOWN


def classify(bot_text: str) -> Ask:
    """Which question the bot's reply asks."""
    t = bot_text.lower().strip()
    sentences = [p for p in _SENTENCE.split(t) if p]
    asks = [p for p in sentences if p.endswith("?")]
    last = (asks or sentences or [""])[-1]
    found = _match(last)
    return found if found is not Ask.UNKNOWN else _match(t)


_DIGIT = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())}


def answered(bot_text: str) -> bool:
    """The reply tells the caller something before its question ("Your order has shipped. ...
    Is there anything else I can help with?"), beyond a word of acknowledgement ("Okay.")."""
    sentences = [p for p in _SENTENCE.split(bot_text.strip()) if p]
    return any(len(p.split()) >= 3 for p in sentences[:-1])


def read_back_digits(bot_text: str) -> str:
    """The digits the bot read back ("That's order 4 5 6 7 8." → "45678"), numerals or words."""
    out = []
    for tok in re.findall(r"[a-z]+|\d", bot_text.lower()):
        if tok.isdigit():
            out.append(tok)
        elif tok in _DIGIT:
            out.append(_DIGIT[tok])
    return "".join(out)


# Words in "Just to check. You'd like to <label>?" that mean this caller's intent.
_INTENT_WORDS = {
    "order_status": ("order",), "password_reset": ("password",), "account_balance": ("balance",),
    "opening_hours": ("general question", "opening", "hours"), "speak_to_human": ("person", "agent", "human", "someone"),
    "fraud_stolen_card": ("stolen", "lost", "fraud"), "complaint": ("complaint",),
    "billing_dispute": ("charge", "bill"),
}


def intent_matches(bot_text: str, intent: str) -> bool:
    t = bot_text.lower()
    return any(w in t for w in _INTENT_WORDS.get(intent, ()))


@dataclass(frozen=True)
class CallerState:
    said_preamble: bool = False
    said_opening: bool = False
    restates: int = 0
    last: str | None = None  # the key of the last line said
    last_confirm: str | None = None  # "yes" or "no": the answer a "yes or no?" repeats
    told: bool = False  # the bot has told it what it called for (an answer before "anything else?")


@dataclass(frozen=True)
class Answer:
    key: str  # a key of CallerSpec.lines(), or "wait" (say nothing) or "hang_up", or "menu" (a key pressed)
    keypad: bool = False  # key the number in (DTMF) instead of saying it
    keys: str = ""  # a key pressed instead of a line: the bot offered it ("press 1 for yes")


# The bot asks for the keypad alone (not "say or key in"), as it does once the voice has failed
# twice: every caller does as told (its menu, "Please use the keypad for your order number").
_KEYPAD_ONLY = re.compile(r"use the keypad|on your keypad")
# "press 1 for yes, 2 for no": the key of each answer.
_YES_NO_KEY = re.compile(r"\b(\d) for (yes|no)\b")
_MENU_OPTION = re.compile(r"\b(\d) to ([^,.]+)")
_PERSON_KEY = re.compile(r"person, press (\d)|(\d) for a person")
_AS_YES_NO = {"yes": "yes", "accept_human": "yes", "no": "no", "decline_human": "no"}


def menu_key(bot_text: str, spec: CallerSpec) -> str:
    """The key a caller presses in the bot's keypad menu: its need's, else a person's if it
    wants one (a hand-off need too); "" when the menu has nothing for it."""
    t = bot_text.lower()
    for key, label in _MENU_OPTION.findall(t):
        if intent_matches(label, spec.intent):
            return key
    person = _PERSON_KEY.search(t)
    if person and (spec.intent in HANDOFF_REASONS or spec.intent == "speak_to_human"):
        return person.group(1) or person.group(2)
    return ""


def offered_key(bot_text: str, key: str) -> str:
    """The key the bot offered for the answer ``key`` (yes or no), else ""."""
    want = _AS_YES_NO.get(key)
    return next((k for k, word in _YES_NO_KEY.findall(bot_text.lower()) if word == want), "") if want else ""


MAX_RESTATES = 2
_NUMBERS = ("order", "account", "pin")


def first_line(spec: CallerSpec) -> tuple[Answer, CallerState]:
    """After the greeting: the preamble (sarcasm, hello) if it has one, else the need."""
    if spec.preamble:
        return Answer("preamble"), CallerState(said_preamble=True, last="preamble")
    return Answer("opening"), CallerState(said_opening=True, last="opening")


def answer(bot_text: str, spec: CallerSpec, state: CallerState) -> tuple[Answer, CallerState]:
    """The caller's reply to the bot's reply `bot_text`, and its state after it."""
    ask = classify(bot_text)
    if ask is Ask.MENU:
        pressed = menu_key(bot_text, spec)
        if pressed:
            return Answer("menu", keys=pressed), replace(state, last="menu")
        ask = Ask.HOW_CAN_I_HELP  # nothing in it for this caller: its need again, in words
    key = _key(ask, bot_text, spec, state)
    if key == "hang_up":
        return Answer("hang_up"), state
    new = replace(state, last=key if key != "wait" else state.last)
    if key == "opening":
        new = replace(new, said_opening=True)
    elif key == "restate":
        new = replace(new, restates=state.restates + 1)
    if ask is Ask.ANYTHING_ELSE and answered(bot_text):
        new = replace(new, told=True)
    if ask in (Ask.CONFIRM_VALUE, Ask.CONFIRM_INTENT, Ask.OFFER_HUMAN):
        new = replace(new, last_confirm=key)
    keypad = (spec.keypad or bool(_KEYPAD_ONLY.search(bot_text.lower()))) and key in _NUMBERS
    # "Say yes or no, or press 1 for yes": a choice, as "say or key in" is for a number, so only
    # the callers who key their numbers take it; the others keep talking.
    keys = offered_key(bot_text, key) if spec.keypad else ""
    return Answer(key, keypad=keypad, keys=keys), new


def _key(ask: Ask, bot_text: str, spec: CallerSpec, state: CallerState) -> str:
    handoff = spec.intent in HANDOFF_REASONS
    if ask is Ask.ANYTHING_ELSE:
        if not state.said_opening:
            return "opening"
        # A person whose question was not answered does not say "No, that's all": asked "anything
        # else?" with nothing told (a goodbye it did not mean, a misheard "no, thank you"), it says
        # its need again, as often as it restates elsewhere, then gives up with its closing.
        if state.told or answered(bot_text) or state.restates >= MAX_RESTATES:
            return "closing"
        return "restate"
    if ask is Ask.CONFIRM_VALUE:
        heard = read_back_digits(bot_text)
        mine = {n.digits for n in (spec.order, spec.account, spec.pin) if n is not None}
        return "yes" if heard and heard in mine else "no"
    if ask is Ask.CONFIRM_INTENT:
        return "yes" if intent_matches(bot_text, spec.intent) else "no"
    if ask is Ask.YES_OR_NO:
        return state.last_confirm or "yes"
    if ask in (Ask.PIN, Ask.ORDER, Ask.ACCOUNT):
        slot = ask.value
        return slot if getattr(spec, slot) is not None else ("restate" if state.said_opening else "opening")
    if ask is Ask.NUMBER_REST:  # the number it was giving, whole again, as people do
        if state.last in _NUMBERS:
            return state.last
        have = [n for n in ("order", "account") if getattr(spec, n) is not None]
        return have[0] if have else ("restate" if state.said_opening else "opening")
    if ask is Ask.OFFER_HUMAN:
        return "accept_human" if handoff else "decline_human"
    if ask is Ask.HOW_CAN_I_HELP:
        if not state.said_opening:
            return "opening"
        return "restate" if state.restates < MAX_RESTATES else "hang_up"
    if ask is Ask.STILL_THERE:
        return state.last or "opening"
    return "wait"
