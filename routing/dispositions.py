"""An agent's verdict on a call they took, as the desktop sends it: checked before it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Disposition:
    call_id: str
    agent: str
    escalation_right: bool
    caller_frustrated: bool | None
    reason_tag: str  # checked against store.accounts.REASON_TAGS where it is stored
    note: str | None
    resolved: bool | None = None  # "was the caller's problem resolved?": the resolution-after-hand-off metric

    def answers(self) -> dict[str, Any]:
        """What the store keeps besides the call and the agent (store.accounts.add_disposition's keywords)."""
        return {"escalation_right": self.escalation_right, "caller_frustrated": self.caller_frustrated,
                "reason_tag": self.reason_tag, "note": self.note, "resolved": self.resolved}


def parse_disposition(agent_id: str, msg: Mapping[str, Any], call: Mapping[str, Any] | None) -> Disposition | str:
    """The disposition in the desktop's message, or an error line for the agent.

    `call` is the stored call the message names (None when there is none): only the agent who
    took it may file its disposition.
    """
    call_id = str(msg.get("call_id") or "")
    if call is None:
        return f"no call {call_id!r}"
    if call.get("agent") != agent_id:
        return "only the agent who took the call can file its disposition"
    right = msg.get("escalation_right")
    if not isinstance(right, bool):
        return "escalation_right: must be true or false"
    frustrated = msg.get("caller_frustrated")
    note, resolved = msg.get("note"), msg.get("resolved")
    if resolved is not None and not isinstance(resolved, bool):
        return "resolved: must be true, false or absent"
    return Disposition(call_id, agent_id, right, frustrated if isinstance(frustrated, bool) else None,
                       str(msg.get("reason_tag")), note if isinstance(note, str) and note else None, resolved)
