"""Taking a number from the caller: the order number or the account (its number or e-mail).

Numbers are taken at the length the settings give: a shorter one is kept for the next turn
to finish ("Okay. I have 4 5 so far. What's the rest of the order number?"), a length one off
with a repeated digit is tried one repeat more or fewer against the backend (order and account
numbers only, and always read back; a PIN is never guessed at but asked to be keyed in, see
nlu/verification.py), anything else is re-asked. Every question counts its failed tries and
offers a person at ``max_slot_attempts`` instead of asking again; so does a read-back answered
neither yes nor no twice. A keyed entry (``CallerTurn.keypad``) is the slot value itself: exact,
so it is looked up without being read back.

``SlotFilling`` is mixed into ``TriageDialog`` (nlu/dialog.py), whose ``__init__`` holds the
state these methods read and write (``slot``, ``slots``, ``attempts``, ``partial``...).
"""

from __future__ import annotations

from typing import Any

from .fusion import DialogueSignals
from .intents import OUT_OF_SCOPE
from .speaking import say_digits, say_email
from .spoken_numbers import digits_only, repeat_variants
from .turns import COLLECT, CONFIRM_SLOT, VERIFY, BotReply, CallerTurn
from .understanding import Analysis


def attempt_key(slot: str) -> str:
    """Tries at a slot are counted per question: the order number, the account (its number or
    e-mail address), the PIN."""
    if slot == "order_number":
        return "order_number"
    return "verify" if slot == "verify" else "account"


def longest_number(a: Analysis, min_digits: int) -> str | None:
    """The longest number of at least ``min_digits`` the turn's entities found, if any."""
    runs = [n for n in a.entities.numbers if len(n) >= min_digits]
    return max(runs, key=len) if runs else None


class SlotFilling:
    """Asking for a number, joining it across turns, reading it back, counting failed tries."""

    def _ask(self, slot: str, key: str, a: Analysis | None) -> BotReply:
        self.slot = slot
        self.partial, self._held = "", False
        return self._reply(self.flows.say(key), state=COLLECT, analysis=a)

    def _want(self, slot: str) -> int:
        return self.cfg.order_digits if slot == "order_number" else self.cfg.account_digits

    def _exists(self, slot: str, digits: str) -> bool:
        found = self.backend.order(digits) if slot == "order_number" else self.backend.customer(digits)
        return found is not None

    def _reask_key(self, slot: str) -> str:
        return "order_status.reask_order" if slot == "order_number" else f"{self._flow_kind()}.reask_account"

    def _take_number(self, slot: str, digits: str, a: Analysis | None, joined: bool = False) -> BotReply:
        """A number heard for ``slot`` ("order_number" or "account_id"), of any length.

        The expected length is read back. A length one off with a repeated digit in it ("7 7 2 2"
        for 77222: ASR loses count of repeats) is tried with one repeat more or fewer; when exactly
        one of those exists in the backend, that one is read back (the read-back is the caller's
        check; nothing is acted on unconfirmed). A shorter number is kept for the next turn to
        continue ("Okay. I have 4 5 so far. What's the rest of the order number?"); a short
        number begun afresh after one was kept replaces it but counts as a failed try; a longer
        one is re-asked, as a failed try at the slot."""
        want = self._want(slot)
        self.partial = ""
        if len(digits) == want:
            return self._confirm_value(slot, digits, a)
        found = [c for c in repeat_variants(digits, want) if self._exists(slot, c)]
        if len(found) == 1:
            return self._confirm_value(slot, found[0], a)
        if len(digits) < want:
            if self._held and not joined:  # a number begun afresh: kept, but a try that did not work
                k = attempt_key(slot)
                self.attempts[k] = self.attempts.get(k, 0) + 1
                self.no_progress += 1
                if self.attempts[k] >= self.cfg.max_slot_attempts:
                    return self._slot_failed(slot, self._reask_key(slot), a)
            self.partial, self._held = digits, True
            self.slot = "order_number" if slot == "order_number" else "account"
            # Name the number the rest belongs to: "And the rest?" alone was not understood.
            key = "order_status.partial_order" if slot == "order_number" else f"{self._flow_kind()}.partial_account"
            return self._reply(self.flows.say(key, digits_spoken=say_digits(digits)), state=COLLECT, analysis=a)
        return self._slot_failed(slot, self._reask_key(slot), a)

    def _slot_failed(self, slot: str, key: str, a: Analysis | None, not_understood: bool = False,
                     **values: Any) -> BotReply:
        """A try at a slot that did not work: nothing usable heard, a number of the wrong length,
        a read-back the caller rejected, a lookup that found nothing. Re-ask with ``key``; at
        ``max_slot_attempts`` failed tries (or at ``max_no_match`` turns not understood) stop
        asking: offer a person (or hand over), and a "no" to the offer asks once more."""
        k = attempt_key(slot)
        self.attempts[k] = self.attempts.get(k, 0) + 1
        self.no_progress += 1
        self.partial, self._held = "", False
        self.slots.pop(slot, None)
        collecting = "order_number" if slot == "order_number" else "account"
        if not_understood:
            self.no_match += 1
            if self.no_match >= self.cfg.max_no_match:
                return self._escalate(a, "handoff_no_match", "no_match_limit")
        if self.attempts[k] >= self.cfg.max_slot_attempts:
            failed = self.flows.say(key, **values).split(".")[0] + "."  # "Sorry, I didn't get the order number."
            keyed = self._key_in_number(collecting, failed, a) if slot != "email" else None
            if keyed is not None:  # the voice failed at it twice: the keypad, once, before a person
                return keyed
            return self._offer_human(failed, a, resume=collecting)
        self.slot = collecting
        return self._reply(self.flows.say(key, **values), state=COLLECT, analysis=a)

    def _confirm_value(self, slot: str, value: str, a: Analysis | None) -> BotReply:
        self.slot = slot
        self.slots[slot] = value
        self.partial, self._held = "", False
        self.unclear_confirms = 0
        kind = self._flow_kind()
        if slot == "order_number":
            text = self.flows.say("order_status.confirm_order", order_digits=say_digits(value))
        elif slot == "email":
            text = self.flows.say(f"{kind}.confirm_email", email_spoken=say_email(value))
        else:
            text = self.flows.say(f"{kind}.confirm_account", account_digits=say_digits(value))
        return self._reply(text, state=CONFIRM_SLOT, analysis=a)

    def _on_collect(self, a: Analysis) -> BotReply:
        kind = self._flow_kind()
        slot = "order_number" if self.slot == "order_number" else "account_id"
        heard = digits_only(a.text)  # the turn is nothing but a number
        carried = self._carried
        if carried and heard and len(heard) != self._want(slot) and len(carried) + len(heard) <= self._want(slot):
            return self._take_number(slot, carried + heard, a, joined=True)  # the rest of it
        if slot == "order_number":
            value = heard or a.entities.order_number or longest_number(a, 3)
        else:
            value = heard or a.entities.account_id or longest_number(a, 4)
            if value is None and kind == "password_reset" and a.entities.email:
                return self._confirm_value("email", a.entities.email, a)
        if value:
            return self._take_number(slot, value, a)
        # No value: maybe the caller changed the subject.
        other = self._switch_to(a)
        if other:
            return self._start_flow(other, a)
        return self._slot_failed(slot, self._reask_key(slot), a, not_understood=True)

    def _on_confirm_slot(self, a: Analysis) -> BotReply:
        slot = self.slot or ""
        intent = a.intent.intent
        corrected = a.entities.order_number or a.entities.account_id or longest_number(a, 3)
        if intent in ("yes", "no") and a.intent.confidence < self.cfg.confirm_below and not corrected:
            intent = OUT_OF_SCOPE  # "I guess so." reads as a no at 0.54: neither, so asked yes or no
        if intent == "no" or (corrected and corrected != self.slots.get(slot)):
            # A rejected read-back is a failed try at the slot: the caller gets max_slot_attempts
            # read-backs, then the offer of a person, never an endless "Is that right?".
            self.unclear_confirms = 0
            number_slot = "order_number" if slot == "order_number" else "account_id"
            k = attempt_key(slot)
            if corrected and corrected != self.slots.get(slot) and self.attempts.get(k, 0) + 1 < self.cfg.max_slot_attempts:
                self.attempts[k] = self.attempts.get(k, 0) + 1
                self.no_progress += 1
                self.slots.pop(slot, None)
                return self._take_number(number_slot, corrected, a)
            return self._slot_failed(slot, self._reask_key(number_slot), a)
        if intent == "yes":
            self._understood()
            return self._resolve(a)
        other = self._switch_to(a)
        if other:
            return self._start_flow(other, a)
        # Neither yes nor no ("Yes, not right"): ask once more, then stop asking.
        self.unclear_confirms += 1
        if self.unclear_confirms >= self.cfg.max_slot_attempts:
            self.unclear_confirms = 0
            self.no_match += 1
            self.no_progress += 1
            if self.no_match >= self.cfg.max_no_match:
                return self._escalate(a, "handoff_no_match", "no_match_limit")
            self.slots.pop(slot, None)
            return self._offer_human(self.flows.say("confirm_unclear"), a,
                                     resume="order_number" if slot == "order_number" else "account")
        return self._no_match(a, self.flows.say("yes_or_no"), state=CONFIRM_SLOT)

    def _on_keypad(self, digits: str, turn: CallerTurn) -> BotReply:
        """Digits keyed in answer to the question: the value itself (exact: no read-back)."""
        self._score_wordless(turn, DialogueSignals(self.no_match, 0, turn.barge_in, self.no_progress))
        if self.state == VERIFY:
            return self._check_identity(digits, None, None, keyed=True)
        slot = "order_number" if self.slot == "order_number" else "account_id"
        carried, want = self._carried, self._want(slot)
        if carried and len(digits) != want and len(carried) + len(digits) == want:
            return self._confirm_value(slot, carried + digits, None)  # the rest keyed: part was spoken, read back
        self.slot = slot
        self.slots[slot] = digits
        self._understood()
        return self._resolve(None)
