"""Carrying out what the caller asked: which request it is, its flow, the lookups, the FAQ.

An unsure business intent is confirmed first ("Just to check: you'd like to check on an order?");
an unsure sensitive one (a human-only flow, or one of the policy's ``sensitive_intents``) needs
the higher ``transfer_confirm_below``. A request carried out to the end counts in ``resolved``
and is followed by "Is there anything else I can help with?".

``Fulfilment`` is mixed into ``TriageDialog`` (nlu/dialog.py), whose ``__init__`` holds the
state these methods read and write (``flow``, ``slots``, ``steps``, ``customer``...).
"""

from __future__ import annotations

from datetime import date
from .backend import KbEntry
from .intents import OUT_OF_SCOPE
from .slot_filling import longest_number
from .speaking import say_date, say_digits
from .summary import Step
from .turns import ANYTHING_ELSE, ASK_INTENT, CONFIRM_INTENT, OFFER_HUMAN, VERIFY, BotReply
from .understanding import Analysis


class Fulfilment:
    """From "how can I help?" to the request's answer: order status, password reset, balance, FAQ."""

    def _on_ask_intent(self, a: Analysis) -> BotReply:
        intent = self._business_intent(a)
        if intent is None:
            # Clearly off-topic ("book me a taxi"): say so and offer a person.
            # Merely unclear ("hello?"): re-prompt with examples instead.
            # Offered a person once already and turned down: the examples, not the offer again.
            if (a.intent.top_intent == OUT_OF_SCOPE and a.intent.confidence >= self.cfg.confirm_below
                    and ASK_INTENT not in self.declined_for):
                self.no_match += 1
                self.no_progress += 1
                if self.no_match >= self.cfg.max_no_match:
                    return self._keypad_menu(a) or self._escalate(a, "handoff_no_match", "no_match_limit")
                self.offered_human = True
                return self._reply(self.flows.say("out_of_scope"), state=OFFER_HUMAN, analysis=a)
            return self._no_match(a)
        if self._unsure(intent, a.intent.confidence):
            self.pending_intent = intent
            self.no_progress += 1
            label = self.flows.intents[intent].label
            return self._reply(self.flows.say("confirm_intent", intent_label=label), state=CONFIRM_INTENT, analysis=a)
        return self._start_flow(intent, a)

    def _on_confirm_intent(self, a: Analysis) -> BotReply:
        if a.intent.intent == "yes" and self.pending_intent:
            intent, self.pending_intent = self.pending_intent, None
            return self._start_flow(intent, a)
        if a.intent.intent == "no":
            self.pending_intent = None
            self.no_progress += 1
            return self._reply(self.flows.say("confirm_intent_no"), state=ASK_INTENT, analysis=a)
        return self._on_ask_intent(a)

    def _start_flow(self, intent: str, a: Analysis) -> BotReply:
        route = self.flows.intents[intent]
        self._understood()
        self._accepted = intent
        self.flow = intent
        self.attempts = {}
        if route.flow == "handoff":
            self.steps.append(Step("handoff", intent, "human_only"))
            return self._escalate(a, "", "human_only_intent", text=route.say)
        if route.flow == "faq":
            return self._answer_faq(intent, a)
        if route.flow == "order_status":
            order = a.entities.order_number or longest_number(a, 4)
            if order:
                return self._take_number("order_number", order, a)
            return self._ask("order_number", "order_status.ask_order", a)
        # password_reset and account_balance both start by identifying the account
        if route.flow == "account_balance" and self.customer is not None:
            self.slots["account_id"] = self.customer.account_id
            return self._reply(self.flows.say("account_balance.ask_verify"), state=VERIFY, analysis=a)
        account = a.entities.account_id or longest_number(a, 6)
        if account:
            return self._take_number("account_id", account, a)
        if route.flow == "password_reset" and a.entities.email:
            return self._confirm_value("email", a.entities.email, a)
        return self._ask("account", f"{route.flow}.ask_account", a)

    def _flow_kind(self) -> str:
        return self.flows.intents[self.flow].flow if self.flow else ""

    def _resolve(self, a: Analysis | None) -> BotReply:
        """The value is confirmed (or keyed): look it up and act on it."""
        kind = self._flow_kind()
        today = self.nlu.today()
        if kind == "order_status":
            num = self.slots["order_number"]
            order = self.backend.order(num)
            if order is None:
                self.steps.append(Step("order_lookup", f"order {num}", "not_found"))
                return self._slot_failed("order_number", "order_status.not_found", a, order_digits=say_digits(num))
            self.steps.append(Step("order_lookup", f"order {num}", f"found: {order.status}"))
            if self.customer is None:
                self.customer = self.backend.customer(order.account_id)
            eta = say_date(date.fromisoformat(order.eta), today) if order.eta else "soon"
            text = self.flows.say(f"order_status.statuses.{order.status}", item=order.item, eta=eta,
                                  order_digits=say_digits(num))
            return self._done(text, a)
        # identify the account (password_reset / account_balance)
        if "email" in self.slots and self.slot == "email":
            cust = self.backend.customer_by_email(self.slots["email"])
        else:
            cust = self.backend.customer(self.slots.get("account_id", ""))
        if cust is None:
            slot = self.slot if self.slot in ("email", "account_id") else "account_id"
            self.steps.append(Step("account_lookup", str(self.slots.get(slot)), "not_found"))
            return self._slot_failed(slot, f"{kind}.not_found", a)
        self.customer = cust
        self.slots["account_id"] = cust.account_id
        self.steps.append(Step("account_lookup", cust.account_id, "found"))
        if kind == "password_reset":
            masked = self.backend.send_password_reset(cust.account_id)
            self.steps.append(Step("password_reset", cust.account_id, "sent" if masked else "failed"))
            if not masked:
                return self._escalate(a, "handoff_unresolved", "unresolved")
            return self._done(self.flows.say("password_reset.sent", masked_email=masked), a)
        self.slot = "verify"
        return self._reply(self.flows.say("account_balance.ask_verify"), state=VERIFY, analysis=a)

    def _done(self, text: str, a: Analysis | None) -> BotReply:
        self.resolved += 1
        self._understood()
        self.slot = None
        return self._reply(f"{text} {self.flows.say('anything_else')}", state=ANYTHING_ELSE, analysis=a)

    def _answer_faq(self, intent: str, a: Analysis) -> BotReply:
        route = self.flows.intents[intent]
        entry = None
        if intent == "opening_hours" or not route.kb:
            entry = self._best_kb_entry(a)
        if entry is None and route.kb:
            entry = self.backend.kb_entry(route.kb)
        if entry is None:
            self.steps.append(Step("faq", intent, "no_answer"))
            self.offered_human = True
            return self._reply(f"{self.flows.say('faq.not_found')} {self.flows.say('offer_human')}", state=OFFER_HUMAN, analysis=a)
        self.steps.append(Step("faq", entry.key, "answered"))
        text = self.flows.say("faq.answer", answer=entry.answer)
        if route.then == "offer_human":
            self.offered_human = True
            return self._reply(f"{text} {self.flows.say('offer_human')}", state=OFFER_HUMAN, analysis=a)
        return self._done(text, a)

    def _best_kb_entry(self, a: Analysis) -> KbEntry | None:
        """The knowledge-base entry whose question is nearest the turn (cosine >= 0.3), or None."""
        entries = self.backend.kb_entries()
        if not entries or a.embedding is None:
            return None
        if self._kb_vectors is None or self._kb_vectors[0] != [(e.key, e.question) for e in entries]:  # an edit
            self._kb_vectors = ([(e.key, e.question) for e in entries], self.nlu.embed([e.question for e in entries]))
        sims = self._kb_vectors[1] @ a.embedding
        best = int(sims.argmax())
        return entries[best] if float(sims[best]) >= 0.3 else None
