"""The queue as a call's transfer sees it, and which agents can take which calls (skills by intent).

Two rules for the caller's sake sit on top of the skills queue (``routing.queue``): a skill
nobody has falls back to anyone, and when nobody at all is signed in the caller does not wait
for no one. The intent → skill map is the ``skills:`` section of the policy file, data beside
the escalation rules rather than code; a policy file without one keeps the shipped map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import yaml

from routing.policy import DEFAULT_POLICY_PATH, PolicyError
from routing.queue import CallQueue, QueuePool

WRAP_UP_S = 5.0  # seconds an agent stays in wrap-up after a call before taking the next


def load_skills(path: str | Path | None = None) -> dict[str, str]:
    """The policy file's ``skills:`` map (intent → agent skill); the shipped file's when it has none."""
    path = Path(path or DEFAULT_POLICY_PATH)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read policy ({exc})") from None
    skills = doc.get("skills") if isinstance(doc, Mapping) else None
    if skills is None:
        return load_skills(DEFAULT_POLICY_PATH) if path != Path(DEFAULT_POLICY_PATH) else {}
    if not isinstance(skills, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                  for k, v in skills.items()):
        raise PolicyError("skills: must map intent names to skill names")
    return dict(skills)


def skill_for(skills: Mapping[str, str], intent: str | None) -> str | None:
    """The skill a call of this intent needs; None (anyone) for an intent with no skill."""
    return skills.get(intent or "")


class StaffedPool(QueuePool):
    """The queue as the transfer sees it, with two rules for the caller's sake: a skill nobody has
    falls back to anyone, and when nobody at all is signed in the caller does not wait for no one.
    While waiting, the caller hears their position and the expected wait."""

    def __init__(self, queue: CallQueue, call_ref: str, *, wrap_up: float,
                 on_wait: Callable[[str], Awaitable[None]] | None = None):
        super().__init__(queue, call_ref, wrap_up=wrap_up)
        self.on_wait = on_wait

    async def acquire(self, skill, exclude=(), timeout=None):
        directory = self.queue.directory
        if skill and not directory.staffed(skill):
            skill = None
        if not directory.staffed(skill):
            return None
        task = asyncio.ensure_future(super().acquire(skill, exclude, timeout))
        await asyncio.sleep(0)  # let the call join the queue before asking its position
        if not task.done() and self.on_wait is not None:
            message = self.queue.announcement(self.call_ref, with_callback=False)
            if message:
                await self.on_wait(message)
        return await task
