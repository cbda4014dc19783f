"""Where every asyncio task of a running `ivr serve` waits (`kill -USR1 PID`): finds calls that never end."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("ivr")


def _await_chain(task: asyncio.Task) -> str:
    """Where a task waits: its coroutine and every coroutine it awaits, outermost first."""
    parts, coro = [], task.get_coro()
    for _ in range(30):
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        parts.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if coro is None:
            break
    return " -> ".join(parts) or repr(task.get_coro())


def dump_tasks() -> None:
    """Log every asyncio task grouped by where it waits (finds calls that never end)."""
    groups: dict[str, int] = {}
    for task in asyncio.all_tasks():
        where = _await_chain(task)
        groups[where] = groups.get(where, 0) + 1
    for where, n in sorted(groups.items(), key=lambda kv: -kv[1]):
        log.warning("tasks: %d x %s", n, where)
