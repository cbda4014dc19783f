"""Fixed prompts' audio from the start-up cache, synthesized (and kept) only when new.

Synthesizing every fixed prompt and knowledge-base answer with Piper is most of a cold start
(~120 texts, 40-60 s on 2 cores). Each text is its own entry, keyed by the text, the voice's
files, the Piper and onnxruntime versions and the source of the code that synthesizes, so an
edited prompt in flows.yaml (or a new KB answer) costs that one text, not all of them.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from importlib.metadata import version
from typing import Callable

import numpy as np

from calls.disk_cache import DiskCache, entry_key, file_digest, source_digest

KIND = "prompts"
log = logging.getLogger("ivr.startup")


def voice_identity(models) -> dict[str, str]:
    """What decides the audio of a text besides the text: the voice's files and the runtime."""
    from voice.models import SpeechModels
    from voice.services import PromptCache

    onnx, config = models.voice_files()
    return {"voice": file_digest(onnx), "config": file_digest(config), "piper": version("piper-tts"),
            "onnxruntime": version("onnxruntime"),
            "code": source_digest(SpeechModels.synthesize_sync, PromptCache.synthesize)}


def prompt_key(text: str, voice: dict[str, str]) -> str:
    return entry_key("prompt", {"text": text, "voice": voice})


def cached_render(cache: DiskCache, prompts, voice: dict[str, str], total: int,
                  every_s: float = 5.0) -> Callable[[str], np.ndarray]:
    """A `PromptCache.build` renderer: the cache's audio, else Piper's (then kept). While it
    synthesizes it says how far it got, every `every_s` seconds."""
    lock = threading.Lock()
    state = {"done": 0, "said": time.monotonic()}

    def render(text: str) -> np.ndarray:
        a = cache.get_or_build(KIND, text[:60], prompt_key(text, voice), lambda: {"pcm": prompts.synthesize(text)})
        with lock:
            state["done"] += 1
            if cache.built(KIND) and time.monotonic() - state["said"] >= every_s:
                state["said"] = time.monotonic()
                log.info("startup: prompts: %d of %d ready (%d synthesized so far)", state["done"], total,
                         len(cache.built(KIND)))
        return a["pcm"].astype(np.int16, copy=False)

    return render


def prepare_prompts(cache: DiskCache, models, texts: dict[str, str]):
    """A built PromptCache over `texts` and a line for the start-up log. Texts missing from the
    cache are synthesized one at a time, as before the cache (Piper already uses every core), so
    a cold start costs no more CPU than it did."""
    from voice.services import PromptCache

    prompts = PromptCache(models, texts)
    unique = prompts.texts()
    prompts.build(cached_render(cache, prompts, voice_identity(models), len(unique)))
    built = cache.built(KIND)
    return prompts, f"{len(unique)} texts: {len(unique) - len(built)} from the cache, {len(built)} synthesized"


def add_prompts(prompts, texts: dict[str, str], cache: DiskCache | None = None, models=None) -> int:
    """Agent assist's edits: put `texts` (name → text, e.g. an edited knowledge-base answer) into a
    built PromptCache and render what is new, from `cache` (and kept there) when given. Returns how
    many texts were rendered. Run it off the event loop: a new text costs Piper."""
    prompts.prompts.update(texts)
    fresh = [t for t in prompts.texts() if t not in prompts._native]  # build() renders just these
    if not fresh:
        return 0
    if cache is not None and models is not None:
        prompts.build(cached_render(cache, prompts, voice_identity(models), len(fresh)))
    else:
        prompts.build()
    return len(fresh)


def follow_answers(engine) -> Callable[[list], None] | None:
    """A callback for agent assist's articles (anything with ``key`` and ``answer``): their answers
    join `engine`'s prompt cache, rendered in a thread from the start-up cache it was built from
    (and kept there), so an edited answer is played from the cache like the one it replaced.
    None when the engine has no prompt cache (a bot without speech)."""
    prompts, models = getattr(engine, "prompts", None), getattr(engine, "models", None)
    if prompts is None or not hasattr(prompts, "prompts"):
        return None
    where = getattr(getattr(engine, "startup", None), "cache_dir", None)
    cache = DiskCache(Path(where) if where else None)

    def follow(articles: list) -> None:
        texts = {f"kb:{a.key}": a.answer for a in articles}
        if any(prompts.prompts.get(k) != v for k, v in texts.items()):
            threading.Thread(target=add_prompts, args=(prompts, texts, cache, models), daemon=True,
                             name="kb-prompts").start()

    return follow
