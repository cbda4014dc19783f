"""Process-wide voice resources: the shared models, warmed, and the prompt cache."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from voice.models import ModelConfig, SpeechModels, shared_models
from voice.prompts import DEFAULT_PROMPTS

log = logging.getLogger(__name__)


@dataclass
class Engine:
    models: SpeechModels
    prompts: "PromptCache"  # noqa: F821 (pipecat is imported only once logging is set up)
    startup_seconds: float


_engine: Engine | None = None


def quiet_libraries() -> None:
    """pipecat logs every frame decision through loguru at DEBUG; a CLI wants warnings only."""
    from loguru import logger

    logger.remove()
    logger.add(lambda m: os.sys.stderr.write(m), level=os.environ.get("IVR_PIPECAT_LOG", "WARNING"))


def get_engine(config: ModelConfig | None = None) -> Engine:
    """Load the models once, warm every JIT (Whisper, Piper, librosa), synthesize fixed prompts."""
    global _engine
    if _engine is None:
        from voice import prosody
        from voice.services import PromptCache

        t0 = time.perf_counter()
        models = shared_models(config)
        models.warm_up()
        prosody.warm_up()
        prompts = PromptCache(models, DEFAULT_PROMPTS).build()
        _engine = Engine(models, prompts, time.perf_counter() - t0)
        log.info("voice engine ready in %.1f s", _engine.startup_seconds)
    return _engine
