"""The call store: calls, turns, replies, events, decisions, transfers, surveys, callbacks,
agents, and the versioned escalation policy with its audit trail.

    store = Store("sqlite:///var/ivr.db")          # or "postgresql://user@host/ivr"
    call_id = store.call_started(sip_call_id, caller)  # never blocks: one writer thread
    store.record_event(call_id, event)                 # each write committed as it comes
    store.call_ended(call_id, "transferred")
    await store.flush()                                # everything queued is written
    store.close()
"""

from .db import DEFAULT_URL, make_engine
from .store import (
    AGENTS_CHANNEL,
    CALLBACK_STATUSES,
    NOTIFY_CHANNEL,
    OUTCOMES,
    TRANSFER_RESULTS,
    PolicyChanges,
    PolicyConflict,
    Store,
    StoreClosed,
)
from .upgrade import migrate

__all__ = ["Store", "StoreClosed", "PolicyConflict", "PolicyChanges", "DEFAULT_URL", "OUTCOMES", "AGENTS_CHANNEL",
           "TRANSFER_RESULTS", "CALLBACK_STATUSES", "NOTIFY_CHANNEL", "make_engine", "migrate"]
