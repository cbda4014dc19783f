"""How a call ended, spelled once: the store's `calls.outcome` column, the `end` event, the
`ivr_call_outcomes` counter and the bench reports all use these values."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    """A str enum, so a member compares, hashes and serialises as its value ("bot_resolved")."""

    BOT_RESOLVED = "bot_resolved"  # the bot said goodbye after doing what the caller called for
    TRANSFERRED = "transferred"  # a person took the call
    CALLER_HUNG_UP = "caller_hung_up"  # the caller left while the bot was still on
    ABANDONED = "abandoned"  # the call ended unresolved: silence, a transfer nobody took
    INTERRUPTED = "interrupted"  # the worker died mid-call; found and closed by another


OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
