"""Agent assist on the desktop: knowledge-base articles for what the caller just said, and the
facts the bot already looked up, on the screen pop.

`AssistHub` is the screen-pop hub (`routing.screenpop`) with two additions, so assist rides the
feed the desktop already drains and needs no second socket: each pop carries ``facts`` (the
order, the account, whether the caller was verified: `bot_facts`) and is followed by a
``suggestions`` message for the caller's last turn in the summary; each live transcript line of
the caller is followed by a ``suggestions`` message for it. The search (`nlu.knowledge`) runs in
a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping, Sequence

from nlu.dialog import NO_INPUT_TEXT
from nlu.knowledge import KnowledgeIndex, Suggestion

from .screenpop import _POP_FIELDS, ScreenPopHub

__all__ = ["AssistHub", "bot_facts", "last_caller_text", "suggestions_message"]

log = logging.getLogger("routing.assist")
TOP = 3


def bot_facts(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What the bot looked up, for the pop: ``order`` ("45678: shipped" or "45678: not found"),
    ``account`` ("12345678, Alice Johnson, gold"), ``verified`` (True/False) and ``verify``
    (what was tried: "pin: passed"). Pure, from the hand-off summary's dict."""
    facts: dict[str, Any] = {"order": None, "account": None, "verified": bool(summary.get("verified")), "verify": None}
    for step in summary.get("steps") or ():
        action, detail, result = step.get("action"), str(step.get("detail") or ""), str(step.get("result") or "")
        if action == "order_lookup":
            number = detail.removeprefix("order ").strip()
            facts["order"] = f"{number}: {result.removeprefix('found: ').replace('_', ' ')}" if result.startswith("found") \
                else f"{number}: not found"
        elif action == "account_lookup" and result != "found":
            facts["account"] = facts["account"] or f"{detail}: not found"
        elif action == "verify":
            facts["verify"] = f"{detail}: {result}"
    customer = summary.get("customer")
    if customer:
        facts["account"] = ", ".join(str(p) for p in (customer.get("account_id"), customer.get("name"),
                                                      customer.get("tier")) if p)
    if not facts["order"] and (summary.get("entities") or {}).get("order_number"):
        facts["order"] = f"{summary['entities']['order_number']}: not looked up"
    return facts


def last_caller_text(summary: Mapping[str, Any]) -> str:
    """The caller's last words in the bot's part of the call ("" when they said nothing; a silence
    the bot prompted on, "[no input]", is not words)."""
    for line in reversed(summary.get("transcript") or []):
        text = str(line.get("text") or "").strip()
        if line.get("speaker") == "caller" and text and text != NO_INPUT_TEXT:
            return str(line["text"])
    return ""


def suggestions_message(call_id: str, said: str, found: Sequence[Suggestion]) -> dict[str, Any]:
    return {"type": "suggestions", "call_id": call_id, "for": said, "articles": [s.to_dict() for s in found]}


class AssistHub(ScreenPopHub):
    """A `ScreenPopHub` that adds assist (see the module docstring); ``index`` may be set later
    (the knowledge base is opened beside the hub). Without an index it is a plain hub."""

    def __init__(self, *args: Any, index: KnowledgeIndex | None = None, top: int = TOP, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index = index
        self.top = top
        self.suggested = 0  # suggestions messages sent (a figure for tests and logs)
        self._tasks: set[asyncio.Task] = set()

    def pop(self, agent_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        payload = dict(payload)
        if isinstance(payload.get("summary"), Mapping):
            payload["facts"] = bot_facts(payload["summary"])
        else:  # the transfer's flat pop (the summary's fields beside call_id): the hub nests them
            payload = {**{k: v for k, v in payload.items() if k in _POP_FIELDS},
                       "summary": {k: v for k, v in payload.items() if k not in _POP_FIELDS}}
            payload["facts"] = bot_facts(payload["summary"])
        message = super().pop(agent_id, payload)
        said = last_caller_text(message.get("summary") or {})
        if said:
            self._suggest(agent_id, str(message.get("call_id") or ""), said)
        return message

    def transcript(self, agent_id: str, call_id: str, speaker: str, text: str) -> dict[str, Any]:
        message = super().transcript(agent_id, call_id, speaker, text)
        if speaker == "caller":
            self._suggest(agent_id, call_id, message["text"])  # the redacted words
        return message

    def search(self, query: str, k: int | None = None) -> list[Suggestion]:
        return self.index.search(query, k or self.top) if self.index is not None else []

    def _suggest(self, agent_id: str, call_id: str, said: str) -> None:
        if self.index is None or not said.strip():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop (a script, a test): search here
            self._deliver(agent_id, call_id, said, self._search_safely(said))
            return
        task = loop.create_task(self._suggest_async(loop, agent_id, call_id, said))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _suggest_async(self, loop: asyncio.AbstractEventLoop, agent_id: str, call_id: str, said: str) -> None:
        found = await loop.run_in_executor(None, self._search_safely, said)
        self._deliver(agent_id, call_id, said, found)

    def _search_safely(self, said: str) -> list[Suggestion]:
        try:
            return self.search(said)
        except Exception:  # assist is a help, never a reason to lose the pop
            log.exception("knowledge search failed")
            return []

    def _deliver(self, agent_id: str, call_id: str, said: str, found: Sequence[Suggestion]) -> None:
        self.send(agent_id, suggestions_message(call_id, said, found))
        self.suggested += 1

    async def settled(self) -> None:
        """Until every search started so far has been delivered (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


