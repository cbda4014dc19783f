"""Back to the bot after a transfer nobody could take: an apology and a callback offer."""

from __future__ import annotations

import re

from calls.events import CallbackRequestedEvent
from calls.outcome import Outcome
from voice.frames import CallerTurnFrame
from voice.processors import Reply

APOLOGY = "I'm sorry, nobody is free to take your call right now. Would you like us to call you back on this number?"
YES_BYE = "Okay. We'll call you back as soon as someone is free. Goodbye."
NO_BYE = "Okay. Please call again any time. Goodbye."
_YES = re.compile(r"\b(yes|yeah|yep|sure|please|okay|ok|call me back)\b", re.I)
_NO = re.compile(r"\b(no|nope|don't|do not|never mind)\b", re.I)


class CallbackResponder:
    """Asks once; a yes stores a callback request (through `on_callback`), then goodbye either way."""

    def __init__(self, on_callback, asks: int = 2):
        self._on_callback = on_callback
        self._asks = asks

    def greeting(self) -> Reply:
        return Reply(APOLOGY)

    def on_turn(self, turn: CallerTurnFrame) -> Reply | None:
        text = turn.text or ""
        if _NO.search(text) and not re.search(r"\bno problem\b", text, re.I):
            return Reply(NO_BYE, end_call=True, outcome=Outcome.ABANDONED)
        if _YES.search(text):
            self._on_callback()
            return Reply(YES_BYE, end_call=True, outcome=Outcome.ABANDONED, events=[CallbackRequestedEvent()])
        self._asks -= 1
        if self._asks <= 0:
            return Reply(NO_BYE, end_call=True, outcome=Outcome.ABANDONED)
        return Reply("Sorry, shall we call you back? Please say yes or no.")

    def on_dtmf(self, digit: str) -> Reply | None:
        return None
