"""The foundation's bot: greets, confirms what it heard, says goodbye when asked.

Placeholder judgement until the NLU lands; it exists so the whole voice path (ASR → reply → TTS
→ playout) runs for real. It adds no intent or frustration keys: those appear only once computed.
"""

from __future__ import annotations

import re

from voice.frames import CallerTurnFrame
from voice.processors import Reply

_BYE = re.compile(r"\b(bye|goodbye|that's all|that is all|hang up)\b", re.I)


class EchoResponder:
    def __init__(self, prompts: dict[str, str]):
        self.prompts = prompts

    def greeting(self) -> Reply:
        return Reply(self.prompts["greeting"])

    def turn_fields(self, turn: CallerTurnFrame) -> dict:
        return {}

    def on_turn(self, turn: CallerTurnFrame) -> Reply | None:
        text = (turn.text or "").strip()
        if not text:
            return None
        if _BYE.search(text):
            return Reply(self.prompts["goodbye"], end_call=True)
        return Reply(f"Okay. You said: {text.rstrip('.?!')}.")
