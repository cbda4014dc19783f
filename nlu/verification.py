"""Who the caller is before the balance is told: a PIN or a date of birth, checked by the backend.

A PIN is never guessed at: one heard with the wrong number of digits is neither tried nor read
with a repeat more or fewer (each verify is a guess at the caller's secret); the caller is asked
to key it in. A failed check counts towards ``max_slot_attempts``, then the call goes to a
person. The step records which proof was given, never its value; answers to the PIN question
are masked (``[PIN]``) in the transcript, the entities and the reply's ``caller_text``.

``Verification`` is mixed into ``TriageDialog`` (nlu/dialog.py), whose ``__init__`` holds the
state these methods read and write (``customer``, ``verified``, ``attempts``...).
"""

from __future__ import annotations

from datetime import date

from .backend import Customer
from .entities import parse_date
from .speaking import say_amount, say_date
from .spoken_numbers import digit_runs, digits_only
from .summary import Step
from .turns import VERIFY, BotReply
from .understanding import Analysis


class Verification:
    """The answer to "your PIN or date of birth", the check, and the balance once it passed."""

    def _on_verify(self, a: Analysis) -> BotReply:
        assert self.customer is not None or "account_id" in self.slots
        runs = digit_runs(a.text)
        pins = [r.digits for r in runs if len(r.digits) == self.cfg.pin_digits]
        dob = parse_date(a.text, self.nlu.today(), prefer_past=True)
        if not pins and dob is None:
            said = digits_only(a.text)
            if said and len(said) == self.cfg.pin_digits:
                pins = [said]  # said in groups ("four three ... two one")
            elif said or runs:
                return self._pin_rekey(a)
            else:
                other = self._switch_to(a)
                if other:
                    return self._start_flow(other, a)
        return self._check_identity(pins[0] if pins else None, dob, a)

    def _pin_rekey(self, a: Analysis) -> BotReply:
        """A PIN heard with the wrong number of digits ("1 1 1 1 1"). Never tried, nor any reading
        of it with a repeat more or fewer: each verify is a guess at the caller's secret. Not a
        failed verification either: the caller is asked to key it in (keys are exact), and after
        max_slot_attempts such answers is offered a person."""
        self.attempts["pin_heard"] = self.attempts.get("pin_heard", 0) + 1
        self.no_progress += 1
        if self.attempts["pin_heard"] >= self.cfg.max_slot_attempts:
            return self._offer_human(self.flows.say("account_balance.pin_rekey").split(".")[0] + ".", a)
        return self._reply(self.flows.say("account_balance.pin_rekey"), state=VERIFY, analysis=a)

    def _check_identity(self, pin: str | None, dob: date | None, a: Analysis | None, keyed: bool = False) -> BotReply:
        """Verify the account with a PIN or a date of birth; the step records which, never the value."""
        account = self.slots.get("account_id") or (self.customer.account_id if self.customer else "")
        ok = self.backend.verify(account, pin=pin, dob=dob)
        what = "date of birth" if dob else ("PIN (keypad)" if keyed else "PIN") if pin else "nothing heard"
        self.steps.append(Step("verify", what, "passed" if ok else "failed"))
        if not ok:
            self.attempts["verify"] = self.attempts.get("verify", 0) + 1
            self.no_progress += 1
            if self.attempts["verify"] >= self.cfg.max_slot_attempts:
                text = f"{self.flows.say('account_balance.verify_locked')} {self.flows.say('handoff_unresolved')}"
                return self._escalate(a, "", "verification_failed", text=text)
            return self._reply(self.flows.say("account_balance.verify_failed"), state=VERIFY, analysis=a)
        self.verified = True
        self._understood()
        cust = self.customer or self.backend.customer(account)
        self.customer = cust
        assert cust is not None
        return self._tell_balance(cust, a)

    def _tell_balance(self, cust: Customer, a: Analysis | None) -> BotReply:
        """The verified caller's balance: nothing owed, owed by a due date, or owed."""
        first = cust.name.split()[0]
        word = self.cfg.currency_words.get(cust.currency, cust.currency)
        if cust.balance_cents == 0:
            text = self.flows.say("account_balance.balance_zero", first_name=first)
        elif cust.due_date:
            text = self.flows.say("account_balance.balance_due", first_name=first,
                                  amount_spoken=say_amount(cust.balance_cents, word),
                                  due=say_date(date.fromisoformat(cust.due_date), self.nlu.today()))
        else:
            text = self.flows.say("account_balance.balance", first_name=first,
                                  amount_spoken=say_amount(cust.balance_cents, word))
        self.steps.append(Step("balance", cust.account_id, "told"))
        return self._done(text, a)
