"""Process-wide resources: the shared speech models (warmed), the NLU, the prompt cache, the bot."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

from voice.models import ModelConfig, SpeechModels, shared_models

if TYPE_CHECKING:  # pipecat is imported only once logging is set up
    from voice.services import PromptCache
from voice.prompts import DEFAULT_PROMPTS

log = logging.getLogger(__name__)


@dataclass
class Engine:
    models: SpeechModels
    prompts: "PromptCache"
    startup_seconds: float
    flows: object = None
    backend: object = None
    policy: object = None
    startup: object = None  # ivr.startup.StartupReport

    def responder(self, kind: str = "triage", caller_id: str | None = None):
        """A new bot for one call."""
        if kind == "echo":
            from voice.responders import EchoResponder

            return EchoResponder(self.prompts.prompts)
        from ivr.triage import TriageResponder

        return TriageResponder(self.backend, self.policy, self.flows, caller_id=caller_id)


_engine: Engine | None = None


def quiet_libraries() -> None:
    """pipecat logs every frame decision through loguru at DEBUG; a CLI wants warnings only."""
    from loguru import logger

    logger.remove()
    logger.add(lambda m: os.sys.stderr.write(m), level=os.environ.get("IVR_PIPECAT_LOG", "WARNING"))


def kb_prompts(backend) -> dict[str, str]:
    """The knowledge base's answers are the company's fixed texts too (opening hours, returns):
    cached like the prompts. One edited later only misses the cache and is synthesized."""
    return {f"kb:{e.key}": e.answer for e in backend.kb_entries() if e.answer.strip()}


def get_engine(
    config: ModelConfig | None = None,
    *,
    db: str = ":memory:",
    policy_path: str | Path | None = None,
    with_nlu: bool = True,
    cache_dir: str | Path | None = None,
) -> Engine:
    """Load the models once, warm every JIT (Whisper, Piper, librosa, MiniLM), cache fixed prompts.

    The fitted classifiers and the prompts' audio come from the start-up cache (`cache_dir`, else
    $IVR_CACHE_DIR, else var/cache; ``off`` for none) when their inputs have not changed.
    Raises ValueError (PolicyError) for an unusable policy file before anything heavy loads.
    """
    global _engine
    if _engine is None:
        from calls.disk_cache import DiskCache
        from ivr.startup import StartupPlan, prepare, resolve_dir

        t0 = time.perf_counter()
        policy = None
        if with_nlu:
            from routing.policy import DEFAULT_POLICY_PATH, load_policy

            policy = load_policy(policy_path or DEFAULT_POLICY_PATH)
        dialog: dict = {}

        def prompt_texts() -> dict[str, str]:  # run in the prompts step, beside the others
            prompts = dict(DEFAULT_PROMPTS)
            if with_nlu:
                dialog["flows"], dialog["backend"], texts = nlu_inputs(db)
                prompts.update(texts)
            return prompts

        models = shared_models(config)
        prepared = prepare(models, StartupPlan(prompt_texts, nlu=with_nlu), DiskCache(resolve_dir(cache_dir)))
        _engine = Engine(models, prepared.prompts, time.perf_counter() - t0, dialog.get("flows"),
                         dialog.get("backend"), policy, startup=prepared.report)
        log.info("engine ready in %.1f s", _engine.startup_seconds)
    return _engine


def nlu_inputs(db: str = ":memory:"):
    """The dialog's flows, the company backend at `db`, and the fixed texts both of them say."""
    import nlu
    from ivr.triage import fixed_prompts
    from nlu.flows import Flows

    flows = Flows.load()
    if db != ":memory:":
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    backend = nlu.open_demo_backend(db)
    texts = {f"flow:{k}": v for k, v in fixed_prompts(flows).items()}
    texts.update(kb_prompts(backend))
    return flows, backend, texts
