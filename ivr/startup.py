"""Getting a process ready to answer calls at full speed: every step side by side, each logged.

What the start-up cache holds (the NLU's fitted classifiers, the prompts' audio) is read from
it; what it cannot hold (loading Whisper, Piper and MiniLM, their first inference, librosa's
imports and numba's compiled code) runs in threads side by side, most of it outside the GIL
(onnxruntime, CTranslate2). The process reports ready only when every step is done, so the
first caller never waits for any of them. Each step logs what it did and how long it took
(``ivr.startup``, INFO), and a cold start's prompt synthesis says how far it got as it goes.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from calls.disk_cache import DiskCache
from nlu.fitted_cache import NluFiles

log = logging.getLogger("ivr.startup")
ENV = "IVR_CACHE_DIR"
DEFAULT_DIR = "var/cache"
CACHE_HELP = ("start-up cache folder: fitted classifiers and prompts' audio, rebuilt per entry when what made it "
              "changes (default $IVR_CACHE_DIR, else var/cache; 'off': none)")


def resolve_dir(configured: str | Path | None = None) -> Path | None:
    """The cache folder: the setting if given, else ``$IVR_CACHE_DIR``, else ``var/cache``;
    ``off`` (either way) disables the cache."""
    value = str(configured) if configured else os.environ.get(ENV) or DEFAULT_DIR
    return None if value.strip().lower() in ("off", "none", "") else Path(value)


@dataclass(frozen=True)
class StepReport:
    name: str
    seconds: float
    detail: str


@dataclass
class StartupReport:
    """How the start went: each step, the whole, and what the cache had or had to build."""

    seconds: float
    steps: list[StepReport]
    cache_dir: str | None
    hits: int
    built: int

    def as_dict(self) -> dict:
        return {"seconds": round(self.seconds, 2), "cache_dir": self.cache_dir, "hits": self.hits,
                "built": self.built, "steps": {s.name: round(s.seconds, 2) for s in self.steps}}


@dataclass
class Prepared:
    prompts: object  # voice.services.PromptCache
    report: StartupReport


@dataclass
class StartupPlan:
    """What to get ready: the prompts' texts, and whether the NLU, the models' warm-up and
    prosody are needed (`ivr warm` builds what the cache keeps and warms no model)."""

    prompts: Callable[[], dict[str, str]]  # the texts to speak (gathered inside the prompts step)
    nlu: bool = True
    warm_models: bool = True  # run Whisper and Piper once (a serving process; not `ivr warm`)
    prosody: bool = True  # import librosa and compile (or load) its numba code into the cache
    nlu_files: NluFiles = field(default_factory=NluFiles.bundled)


def _numba_cache_beside(cache: DiskCache) -> None:
    """librosa's numba functions cache their compiled code beside librosa (cache=True), which a
    container's site-packages does not allow (numba then refuses to import them at all): there,
    and only there, numba is pointed at the start-up cache instead."""
    import importlib.util

    if cache.root is None or "NUMBA_CACHE_DIR" in os.environ or "numba" in sys.modules:
        return  # numba reads the setting once, at its import
    spec = importlib.util.find_spec("librosa")
    if spec is None or os.access(os.path.join(next(iter(spec.submodule_search_locations)), "__pycache__"), os.W_OK):
        return  # numba's own cache works where it is (and outlives this cache)
    folder = cache.root / "numba"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    if os.access(folder, os.W_OK):
        os.environ["NUMBA_CACHE_DIR"] = str(folder)


def prepare(models, plan: StartupPlan, cache: DiskCache) -> Prepared:
    """Run the plan's steps side by side; raises the first step's error after all have ended."""
    from nlu.fitted_cache import prepare_nlu
    from voice.prompt_audio_cache import prepare_prompts

    _numba_cache_beside(cache)
    import onnxruntime  # noqa: F401  every step below uses it: imported once here, not raced for

    t0 = time.perf_counter()
    prompts_out: list = []

    def prompts_step() -> str:
        built, detail = prepare_prompts(cache, models, plan.prompts())
        prompts_out.append(built)
        return detail

    def asr_step() -> str:
        models.warm_asr()
        return "Whisper loaded and run once"

    def tts_step() -> str:
        models.warm_tts()
        return "Piper loaded and run once"

    def prosody_step() -> str:
        from voice import prosody

        prosody.warm_up()
        return "librosa imported, pitch tracker compiled or loaded"

    steps: list[tuple[str, Callable[[], str]]] = [("prosody", prosody_step)] if plan.prosody else []
    steps.append(("prompts", prompts_step))  # the longest first: prosody warm, prompts cold
    if plan.nlu:
        steps.append(("language understanding", lambda: prepare_nlu(cache, plan.nlu_files)))
    if plan.warm_models:
        steps += [("speech recognition", asr_step), ("speech synthesis", tts_step)]
    where = str(cache.root) if cache.root is not None else "off"
    log.info("startup: preparing %s (cache: %s)", ", ".join(name for name, _ in steps), where)

    def timed(name: str, fn: Callable[[], str]) -> StepReport:
        s0 = time.perf_counter()
        detail = fn()
        report = StepReport(name, time.perf_counter() - s0, detail)
        log.info("startup: %s ready in %.1f s (%s)", name, report.seconds, detail)
        return report

    with ThreadPoolExecutor(len(steps), thread_name_prefix="startup") as pool:
        futures = [pool.submit(timed, name, fn) for name, fn in steps]
        errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]
    report = StartupReport(time.perf_counter() - t0, [f.result() for f in futures], None if cache.root is None else where,
                           hits=len(cache.hits()), built=len(cache.built()))
    log.info("startup: all ready in %.1f s (%d entries from the cache, %d built)", report.seconds, report.hits,
             report.built)
    return Prepared(prompts_out[0], report)
