"""A bot with no judgement: greets, reads back what it heard, says goodbye when asked.

It exercises the whole voice path (ASR → reply → TTS → playout) with no NLU in the way, which is
what the pipeline benchmark and the voice tests want. It adds no intent or frustration keys.
"""

from __future__ import annotations

import re

from calls.outcome import Outcome
from voice.frames import CallerTurnFrame
from voice.processors import Reply

_BYE = re.compile(r"\b(bye|goodbye|that's all|that is all|hang up)\b", re.I)


class EchoResponder:
    def __init__(self, prompts: dict[str, str]):
        self.prompts = prompts

    def greeting(self) -> Reply:
        return Reply(self.prompts["greeting"])

    def on_turn(self, turn: CallerTurnFrame) -> Reply | None:
        text = (turn.text or "").strip()
        if not text:
            return None
        if _BYE.search(text):
            return Reply(self.prompts["goodbye"], end_call=True, outcome=Outcome.BOT_RESOLVED)
        return Reply(f"Okay. You said: {text.rstrip('.?!')}.")

    def on_dtmf(self, digit: str) -> Reply | None:
        return None
