"""The contact centre as one process runs it: store, live policy, agents, queue, screen pops.

`ivr serve` builds one ContactCenter; each SIP call is a CallSession (ivr.call_session) that
reads what is shared from here: the policy live now (a new version reaches every call in
progress from its next turn), the agents and their queue, the desktop hub, the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping

import numpy as np

from ivr.call_session import CallSession
from routing.agents import AgentDirectory
from routing.assist import AssistHub
from routing.callbacks import CallbackConfig, CallbackScheduler, callback_number
from routing.dispositions import parse_disposition
from routing.handback import HandbackDesk
from routing.queue import CallQueue
from routing.staffing import load_skills
from routing.transfer import TransferConfig
from store import Store
from store.knowledge import open_assist
from voice.prompt_audio_cache import follow_answers
from web.prometheus import CallMetrics

log = logging.getLogger("ivr")


class ContactCenter:
    """See the module docstring; `attach` the SIP endpoint before the first call."""

    def __init__(self, engine, store: Store, directory: AgentDirectory, *, secret: str | None = None,
                 transfer: TransferConfig | None = None, bot: str = "triage", survey: bool = False,
                 voice=None, skills: Mapping[str, str] | None = None, callbacks: CallbackConfig | None = None):
        self.engine = engine
        self.callback_config, self.callbacks = callbacks or CallbackConfig(), None  # the scheduler, from `attach`
        self.skills = dict(load_skills() if skills is None else skills)  # intent -> agent skill
        self.voice_config = voice  # voice.call.VoiceConfig for the bot's calls (None: defaults)
        self.store = store
        self.directory = directory
        self.queue = CallQueue(directory)
        self.hub = AssistHub()  # screen pops, with agent assist's suggestions and facts (routing.assist)
        self.hub.follow(directory)
        self.handbacks = HandbackDesk()  # bridged calls an agent may pass back to the bot (routing.handback)
        self.secret = secret or secrets.token_hex(16)
        self.transfer_config = transfer or TransferConfig()
        self.bot = bot
        self.survey_enabled = survey
        self.active: set[str] = set()
        self._calls: dict[str, object] = {}  # call id → its SIP call, while its CallSession runs
        self.total = 0
        self.metrics = CallMetrics()
        self._responders: set = set()
        version, policy = store.current_policy()
        self.policy, self.policy_version = policy, version
        self.metrics.policy_version.set(version)
        store.on_policy_change(self._policy_changed)
        open_assist(store, engine, self.hub, follow_answers(engine))  # the bot, the desktop, the prompts: one KB

    def _policy_changed(self, version: int, policy) -> None:
        """A new policy version reaches every call in progress from its next turn."""
        self.policy, self.policy_version = policy, version
        self.metrics.policy_version.set(version)
        self.engine.policy = policy
        for r in list(self._responders):
            if hasattr(r, "set_policy"):
                r.set_policy(policy)
        log.info("policy version %d is live", version)

    async def speak(self, text: str) -> np.ndarray:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.engine.models.tts_pool, self.engine.models.synthesize_all, text, 8000)

    async def handle_call(self, call) -> None:
        """Each SIP call (the endpoint runs this as the call's own task): see ivr.call_session."""
        await CallSession(self, call).run()

    def draining(self) -> int:
        """Calls whose caller has hung up but whose pipeline is still finishing (the last turns
        being transcribed for the record). A few is normal; many means the speech models cannot
        keep up, and new calls are better sent to another worker."""
        return sum(1 for c in self._calls.values() if c.ended.is_set())

    def disposition(self, agent_id: str, msg: dict) -> str | None:
        """An agent's verdict on a call they took, from the desktop; an error line, or None when saved."""
        from store.accounts import AccountError

        call_id = str(msg.get("call_id") or "")
        parsed = parse_disposition(agent_id, msg, self.store.get_call(call_id) if call_id else None)
        if isinstance(parsed, str):
            return parsed
        try:
            self.store.accounts.add_disposition(parsed.call_id, parsed.agent, **parsed.answers())
        except AccountError as exc:
            return str(exc)
        return None

    def attach(self, endpoint) -> None:
        self._endpoint = endpoint
        self.callbacks = CallbackScheduler(self.store.callbacks, self.queue, self.hub, endpoint.invite, self.speak,
                                           self.callback_config)
        self.callbacks.start()

    def request_callback(self, call_id: str | None, call, skill: str | None, summary: Mapping) -> str:
        """The caller said yes: queued in the store, placed by the scheduler when an agent is free."""
        cid = self.store.add_callback(call_id, callback_number(call, self.callback_config), skill=skill,
                                      summary=summary, consent=True)
        self.callbacks and self.callbacks.wake()
        return cid

