"""Ending the bot's part without a destructive action on a guess: the goodbye, "anything
else?", and the offer of a person (nlu/evidence.py says why each threshold).

A goodbye before the bot has done anything gets "Is there anything else I can help with?" (a
second goodbye, or "no", ends the call); a goodbye-shaped turn with clear displeasure ("Thanks
for nothing.") is not a goodbye, and gets an apology and the offer of a person. An answer to
the offer that is neither a clear yes nor a clear no (a bare "Thank you.", a "no" heard unsure)
is asked once more ("Would you like a person? Please say yes or no."), never taken as a goodbye;
a number given instead is taken as the number, and a "no" goes back to the question the offer
stopped.

``OfferAndGoodbye`` is mixed into ``TriageDialog`` (nlu/dialog.py), whose ``__init__`` holds the
state these methods read and write (``offered_human``, ``goodbyes``, ``_resume``...).
"""

from __future__ import annotations

from .evidence import displeased, names_a_person, says_farewell
from .spoken_numbers import digits_only
from .turns import ANYTHING_ELSE, ASK_INTENT, COLLECT, ENDED, OFFER_HUMAN, BotReply
from .understanding import Analysis


class OfferAndGoodbye:
    """The goodbye, the answer to "anything else?", and the offer of a person and its answer."""

    def _unclear_offer_answer(self, a: Analysis, bye_shaped: bool) -> bool:
        """After the offer of a person: the turn is neither a clear yes nor a clear no (nor a new
        request, a farewell in words, a number for the question the offer stopped, or "what?").
        A yes or no below ``confirm_below``, a request for a person as unsure as one that is
        confirmed elsewhere, and thanks without words of leave ("Thank you.": often a "no, thank
        you" with its "no" lost) are unclear (nlu/evidence.py)."""
        intent, conf = a.intent.intent, a.intent.confidence
        if intent in ("yes", "no"):
            return conf < self.cfg.confirm_below
        if intent == "speak_to_human":
            return not (names_a_person(a.text) or conf >= self.cfg.transfer_confirm_below)
        if intent == "repeat" or self._business_intent(a) or self._offer_gives_number(a):
            return False
        if bye_shaped:
            return self._thanks_only(a, bye_shaped)
        return True

    def _thanks_only(self, a: Analysis, bye_shaped: bool) -> bool:
        """Goodbye-shaped without words of leave or displeasure ("Thank you.", "So thank you.")."""
        return bye_shaped and not (says_farewell(a.text) or displeased(a.cues, a.text, self._helped()))

    def _offer_gives_number(self, a: Analysis) -> bool:
        """The offer stopped a question for a number, and the caller gives the number instead."""
        return self._resume is not None and self.flow is not None and bool(digits_only(a.text) or a.entities.numbers)

    def _on_goodbye(self, a: Analysis) -> BotReply | None:
        """A goodbye ends the call only on evidence in proportion: not when it sounds displeased
        (sarcasm, a complaint), and not before the bot has done anything or when unsure, unless
        it is the second. None: not a goodbye after all (the turn is routed as usual)."""
        if displeased(a.cues, a.text, self._helped()):
            self._doubted = True
            self.offered_human = True
            text = f"{self.flows.say('apology')} {self.flows.say('offer_human')}"
            return self._reply(text, state=OFFER_HUMAN, analysis=a)
        if a.intent.intent != "goodbye":
            return None
        if self.goodbyes or (self._helped() and a.intent.confidence >= self.cfg.goodbye_confirm_below):
            return self._reply(self.flows.say("goodbye"), state=ENDED, end_call=True, analysis=a)
        self.goodbyes += 1
        self._doubted = True
        return self._reply(self.flows.say("anything_else"), state=ANYTHING_ELSE, analysis=a)

    def _on_anything_else(self, a: Analysis) -> BotReply:
        if a.intent.intent == "no":
            return self._reply(self.flows.say("goodbye"), state=ENDED, end_call=True, analysis=a)
        if a.intent.intent == "yes":
            self._understood()
            return self._reply(self.flows.say("what_else"), state=ASK_INTENT, analysis=a)
        return self._on_ask_intent(a)

    def _offer_human(self, lead: str, a: Analysis | None, resume: str | None = None) -> BotReply:
        """Stop re-asking: offer a person. ``resume``: the slot a "no" to the offer asks for again.

        Once per slot: a caller who said no and whose next try failed too is handed over rather
        than offered again ("Okay, let's try once more." without end kept callers whose number
        Whisper kept mishearing going round until they hung up)."""
        if resume is not None and resume in self.declined_for:
            return self._escalate(a, "", "unresolved", text=f"{lead} {self.flows.say('handoff_unresolved')}")
        self.offered_human = True
        self._resume = resume
        return self._reply(f"{lead} {self.flows.say('offer_human')}", state=OFFER_HUMAN, analysis=a)

    def _on_offer_human(self, a: Analysis) -> BotReply:
        if a.intent.intent in ("yes", "speak_to_human"):
            self._accepted = "speak_to_human"
            return self._escalate(a, "handoff_requested", "human_requested")
        if a.intent.intent == "no":
            return self._offer_declined(a)
        if self._offer_gives_number(a):  # "no" in effect: the number, once more
            self.slot, self._resume = self._resume, None
            self.state = COLLECT
            return self._on_collect(a)
        self._resume = None
        return self._on_ask_intent(a)

    def _offer_declined(self, a: Analysis) -> BotReply:
        """No to the offer of a person: back to the question it stopped, once more, or "How can I help?".

        Turns not understood before the offer still count (``no_match``): a caller the bot cannot
        understand who says no to a person reaches ``max_no_match`` instead of going round."""
        resume, self._resume = self._resume, None
        if resume is not None and self.flow is not None:  # offered after failed tries: once more
            self._understood()
            self.declined_for.add(resume)
            key = "order_status.ask_order" if resume == "order_number" else f"{self._flow_kind()}.ask_account"
            reply = self._ask(resume, key, a)
            ask = reply.text.split(". ", 1)[-1]  # without its "Sure."
            text = f"{self.flows.say('try_again')} {ask}"
            self.transcript[-1], self._last_prompt = ("bot", text), text
            reply = BotReply(**{**reply.to_dict(), "text": text})
            self._last_reply = reply
            return reply
        self.declined_for.add(ASK_INTENT)
        return self._reply(self.flows.say("offer_human_no"), state=ASK_INTENT, analysis=a)
