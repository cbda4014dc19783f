"""Loading and checking ``flows.yaml``: reply texts, settings and intent → flow.

Validated at load, so a company's typo fails at start-up with a message
naming the key, not in the middle of a call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_FLOWS_PATH = Path(__file__).parent / "data" / "flows.yaml"
FLOW_KINDS = ("order_status", "password_reset", "account_balance", "faq", "handoff")
REQUIRED_PROMPTS = (
    "greeting", "no_match", "no_input", "no_input_end", "out_of_scope", "confirm_intent",
    "confirm_intent_no", "anything_else", "what_else", "goodbye", "offer_human", "offer_human_no",
    "handoff_requested", "handoff_frustration", "handoff_no_match", "handoff_unresolved",
    "handoff_no_input", "yes_or_no", "confirm_human", "apology",
)
_COUNT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen")


@dataclass(frozen=True)
class Settings:
    company: str = "Acme"
    max_no_match: int = 3
    max_no_input: int = 2
    no_input_action: str = "end"
    confirm_below: float = 0.6
    frustration_escalate: float = 0.7
    frustration_offer: float = 0.45
    max_slot_attempts: int = 2
    # How many digits each number the bot asks for has: the keypad entry ends there, turn-taking
    # waits for them, and prompts say "your {account_length}-digit account number".
    order_digits: int = 5
    account_digits: int = 8
    pin_digits: int = 4
    # Evidence for destructive actions (see nlu/evidence.py for why these values).
    goodbye_confirm_below: float = 0.8  # a goodbye less sure than this gets "anything else?", not a hang-up
    transfer_confirm_below: float = 0.8  # a request for a person or a sensitive intent less sure: confirmed
    currency_words: Mapping[str, str] = field(default_factory=lambda: {"USD": "dollars"})


@dataclass(frozen=True)
class IntentRoute:
    flow: str
    label: str
    kb: str | None = None
    say: str | None = None
    then: str | None = None  # "offer_human" after an FAQ answer, else "anything else?"


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Flows:
    settings: Settings
    prompts: Mapping[str, str]
    intents: Mapping[str, IntentRoute]
    flows: Mapping[str, Mapping[str, Any]]
    keypad_menu: tuple[str, ...] = ()  # intents by key: "1" is the first

    @classmethod
    def load(cls, path: Path | str = DEFAULT_FLOWS_PATH) -> "Flows":
        return cls.from_dict(yaml.safe_load(Path(path).read_text(encoding="utf-8")), str(path))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], where: str = "flows") -> "Flows":
        s = dict(doc.get("settings") or {})
        unknown = set(s) - set(Settings.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{where}: unknown settings {sorted(unknown)}")
        settings = Settings(**s)
        if settings.no_input_action not in ("end", "escalate"):
            raise ValueError(f"{where}: settings.no_input_action must be 'end' or 'escalate'")
        for name in ("order_digits", "account_digits", "pin_digits"):
            n = getattr(settings, name)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n < len(_COUNT_WORDS):
                raise ValueError(f"{where}: settings.{name} must be a whole number from 1 to {len(_COUNT_WORDS) - 1}")
        for name in ("confirm_below", "goodbye_confirm_below", "transfer_confirm_below"):
            v = getattr(settings, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v <= 1.0:
                raise ValueError(f"{where}: settings.{name} must be a number from 0 to 1")
        prompts = {k: str(v) for k, v in (doc.get("prompts") or {}).items()}
        missing = [p for p in REQUIRED_PROMPTS if p not in prompts]
        if missing:
            raise ValueError(f"{where}: prompts missing {missing}")
        intents: dict[str, IntentRoute] = {}
        for name, spec in (doc.get("intents") or {}).items():
            route = IntentRoute(**spec)
            if route.flow not in FLOW_KINDS:
                raise ValueError(f"{where}: intents.{name}.flow {route.flow!r} is not one of {FLOW_KINDS}")
            if route.flow == "handoff" and not route.say:
                raise ValueError(f"{where}: intents.{name} is a handoff and needs 'say'")
            intents[str(name)] = route
        flows = {str(k): dict(v) for k, v in (doc.get("flows") or {}).items()}
        for route in intents.values():
            if route.flow not in ("handoff",) and route.flow not in flows:
                raise ValueError(f"{where}: flows.{route.flow} is missing")
        menu = tuple(str(i) for i in (doc.get("keypad_menu") or ()))
        if len(menu) > 9 or len(set(menu)) != len(menu) or any(i not in intents for i in menu):
            raise ValueError(f"{where}: keypad_menu must list at most 9 different intents of 'intents'")
        if menu:
            if "keypad_menu" not in prompts:
                raise ValueError(f"{where}: prompts.keypad_menu is missing (it opens the keypad menu)")
            prompts["keypad_menu"] = f"{prompts['keypad_menu']} {menu_options(menu, intents)}"
        return cls(settings, prompts, intents, flows, menu)

    def say(self, key: str, **values: Any) -> str:
        """A reply text by key: ``"greeting"`` (a prompt) or ``"order_status.ask_order"``."""
        if "." in key:
            flow, _, rest = key.partition(".")
            node: Any = self.flows[flow]
            for part in rest.split("."):
                node = node[part]
            template = str(node)
        else:
            template = self.prompts[key]
        return fill(template, **{**self._fixed_values(), **values})

    def _fixed_values(self) -> dict[str, str]:
        """Placeholders every text may use, filled from the settings (so the text stays fixed
        and cacheable): the company and the digit counts as words ("eight-digit")."""
        s = self.settings
        return {"company": s.company, "order_length": _COUNT_WORDS[s.order_digits],
                "account_length": _COUNT_WORDS[s.account_digits], "pin_length": _COUNT_WORDS[s.pin_digits]}


def menu_options(menu: tuple[str, ...], intents: Mapping[str, IntentRoute]) -> str:
    """"Press 1 to check on an order, 2 to ..., or 4 to .... For a person, press 0." """
    parts = [f"{n} to {intents[i].label}" for n, i in enumerate(menu, 1)]
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f", or {parts[-1]}"
    return f"Press {said}. For a person, press 0."


def fill(template: str, **values: Any) -> str:
    """``str.format`` that leaves unknown placeholders as typed."""
    return template.format_map(_Keep({k: v for k, v in values.items() if v is not None}))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def last_question(text: str) -> str:
    """The final sentence of a reply if it asks something (re-prompted on silence)."""
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p]
    return parts[-1] if parts and parts[-1].endswith("?") else text
