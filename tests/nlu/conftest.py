"""Shared fixtures: the models load once per test session (about 3 s)."""

from __future__ import annotations

import os
from datetime import date

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TODAY = date(2026, 11, 21)  # a Saturday


@pytest.fixture(scope="session")
def today() -> date:
    return TODAY


@pytest.fixture(scope="session")
def classifier():
    from nlu.intents import get_classifier

    return get_classifier()


@pytest.fixture(scope="session")
def understanding(classifier):
    from nlu.understanding import Understanding

    return Understanding(classifier=classifier, today=lambda: TODAY)


@pytest.fixture()
def backend():
    from nlu.backend import open_demo_backend

    be = open_demo_backend(":memory:", today=TODAY)
    yield be
    be.close()


# ------------------------------------------------ the triage dialog, scripted turn by turn
#
# Shared by the dialog's tests (test_dialog.py, test_slot_filling.py, test_verification.py,
# test_fulfilment.py, test_offer_and_goodbye.py): a dialog on the demo backend, a way to say
# several turns, an understanding whose intent a test chooses, and a backend with extra records.


@pytest.fixture()
def dialog(backend, understanding):
    from nlu.dialog import TriageDialog

    return TriageDialog(backend, understanding=understanding)


def _talk(d, *turns):
    """Say each turn (a string is a spoken turn) and return the bot's replies."""
    from nlu.turns import CallerTurn

    return [d.on_turn(t if isinstance(t, CallerTurn) else CallerTurn(text=t)) for t in turns]


@pytest.fixture(scope="session")
def talk():
    return _talk


@pytest.fixture(scope="session")
def scripted(understanding):
    """``scripted({text: (intent, confidence)})``: real entities and cues, but the intent and
    confidence the test chooses for those texts."""
    from nlu.intents import IntentResult
    from nlu.understanding import Understanding

    class Scripted(Understanding):
        def __init__(self, base: Understanding, intents: dict[str, tuple[str, float]]):
            super().__init__(classifier=base.classifier, today=base.today)
            self._intents = intents

        def analyse(self, text, previous_embeddings=()):
            a = super().analyse(text, previous_embeddings)
            if text in self._intents:
                name, conf = self._intents[text]
                a = type(a)(a.text, IntentResult(name, conf, {name: conf}, name), a.entities, a.cues, a.embedding)
            return a

    return lambda intents: Scripted(understanding, intents)


class MoreRecords:
    """The demo backend with extra order numbers (each the demo order 45678) and extra account
    numbers (each the demo account 12345678); counts the calls to ``verify``."""

    def __init__(self, backend, orders=(), accounts=()):
        self._b, self._orders, self._accounts, self.verifies = backend, set(orders), set(accounts), 0

    def order(self, number):
        return self._b.order("45678") if number in self._orders else self._b.order(number)

    def customer(self, account_id):
        return self._b.customer("12345678") if account_id in self._accounts else self._b.customer(account_id)

    def verify(self, account, pin=None, dob=None):
        self.verifies += 1
        return self._b.verify(account, pin=pin, dob=dob)

    def __getattr__(self, name):
        return getattr(self._b, name)


@pytest.fixture()
def more_records(backend):
    """``more_records(orders=..., accounts=...)``: the demo backend with those records added."""
    return lambda orders=(), accounts=(): MoreRecords(backend, orders, accounts)
