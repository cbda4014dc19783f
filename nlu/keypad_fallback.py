"""The keypad when the voice fails: asked once, before a person takes over, and for yes or no.

Callers the recogniser hears badly (a strong accent, a robotic voice, a noisy line) fail the same
way every time they repeat themselves: Whisper writes the same "So thank you" for "No, thank you"
and the same wrong digit in their order number. Handing them to a person for that is a transfer on
the channel's failure, not on the caller's need, so before the hand-over the bot changes channel
once, as IVRs have always done:

- before the hand-over for turns not understood (``max_no_match``), a keypad menu of the routine
  requests (``keypad_menu`` in flows.yaml; 0 is still a person);
- before the offer of a person for a number not got (``max_slot_attempts``), "Please use the
  keypad for your order number.";
- wherever the bot wants a yes or no, 1 is yes and 2 is no, and the plain re-asks say so.

A keyed choice is exact evidence: it is taken at full confidence, without a read-back.
"""

from __future__ import annotations

from .entities import Entities
from .frustration_text import TextCues
from .fusion import DialogueSignals
from .intents import OUT_OF_SCOPE, IntentResult
from .turns import ANYTHING_ELSE, ASK_INTENT, COLLECT, CONFIRM_INTENT, CONFIRM_SLOT, KEYPAD_PREFIX, OFFER_HUMAN, BotReply, CallerTurn
from .understanding import Analysis

YES_NO_STATES = (CONFIRM_SLOT, CONFIRM_INTENT, OFFER_HUMAN, ANYTHING_ELSE)
YES_NO_KEYS = {"1": "yes", "2": "no"}


def keyed(intent: str, key: str) -> Analysis:
    """A key the caller pressed for ``intent``, as the NLU's reading of a turn: certain."""
    return Analysis(text=f"{KEYPAD_PREFIX} {key}", intent=IntentResult(intent, 1.0, {intent: 1.0}, intent),
                    entities=Entities(), cues=TextCues(), embedding=None)


class KeypadFallback:
    """Mixed into TriageDialog: the menu, the keyed number and the keyed yes or no."""

    menu_offered: bool  # once per call
    menu_open: bool  # the menu was the bot's last question: its keys answer it
    keyed_asked: frozenset[str]  # number slots the caller was asked to key in

    @property
    def no_match_counted(self) -> int:
        """Turns not understood as the routing policy counts them: while the keypad menu is the
        question, one short of the limit (the menu is the bot's one more try, on another channel)."""
        if self.menu_open and self.no_match >= self.cfg.max_no_match:
            return self.cfg.max_no_match - 1
        return self.no_match

    def _menu_choices(self) -> str:
        return "".join(str(n) for n in range(1, len(self.flows.keypad_menu) + 1))

    def _keypad_menu(self, a: Analysis | None) -> BotReply | None:
        """Instead of the hand-over for turns not understood, the menu, once (None: hand over)."""
        if self.menu_offered or not self.flows.keypad_menu or self.state not in (ASK_INTENT, OFFER_HUMAN, CONFIRM_INTENT):
            return None
        self.menu_offered = self.menu_open = True
        return self._reply(self.flows.say("keypad_menu"), state=ASK_INTENT, analysis=a)

    def _key_in_number(self, collecting: str, failed: str, a: Analysis | None) -> BotReply | None:
        """Instead of the offer of a person for a number not got, "key it in", once per number,
        after what went wrong (``failed``: "I can't find order 2 2 2 2 2.")."""
        if collecting in self.keyed_asked:
            return None
        self.keyed_asked = self.keyed_asked | {collecting}
        self.slot = collecting
        key = "key_in_order" if collecting == "order_number" else "key_in_account"
        return self._reply(f"{failed} {self.flows.say(key)}", state=COLLECT, analysis=a)

    def _on_keyed_choice(self, key: str, turn: CallerTurn) -> BotReply:
        """One key pressed where the bot offered keys: a menu's request, or a yes or a no."""
        self._score_wordless(turn, DialogueSignals(self.no_match, 0, turn.barge_in, self.no_progress))
        menu, self.menu_open = self.menu_open, False
        if menu and self.state == ASK_INTENT and key.isdigit() and 1 <= int(key) <= len(self.flows.keypad_menu):
            return self._decide(keyed(self.flows.keypad_menu[int(key) - 1], key))
        if self.state in YES_NO_STATES and key in YES_NO_KEYS:
            return self._decide(keyed(YES_NO_KEYS[key], key))
        return self._no_match(keyed(OUT_OF_SCOPE, key))
