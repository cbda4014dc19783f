"""pipecat STT and TTS services over the process's shared models.

pipecat's own WhisperSTTService and PiperTTSService each load a model per instance (per call);
these subclasses keep pipecat's service contracts (run_stt / run_tts, metrics, interruption
handling, soxr resampling of TTS audio to the output rate) over one SpeechModels per process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import numpy as np
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame, TTSAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.settings import STTSettings, TTSSettings
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.utils.time import time_now_iso8601

from voice.audio import PIPELINE_RATE, resample
from voice.frames import CallerTurnFrame
from voice.models import SpeechModels, no_end
from voice.sentences import speakable_chunks, split_sentences


class SharedWhisperSTTService(STTService):
    """Transcribes whole caller turns (CallerTurnFrame) with the shared Whisper model.

    Turn boundaries come from the project's turn detector, so the service transcribes each turn
    once, at its end, instead of re-running Whisper on a growing buffer (each run costs ~0.3 s).
    """

    def __init__(self, models: SpeechModels, **kwargs):
        super().__init__(
            sample_rate=PIPELINE_RATE,
            audio_passthrough=False,
            settings=STTSettings(model="tiny.en", language="en"),
            ttfs_p99_latency=1.0,
            **kwargs,
        )
        self._models = models
        self._last_asr_seconds: float | None = None
        self._last_asr_window: str | None = None

    def can_generate_metrics(self) -> bool:
        return True

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        pcm = np.frombuffer(audio, dtype=np.int16)
        await self.start_processing_metrics()
        try:
            result = await self._models.transcribe(pcm, end=no_end)  # the turn has ended
        except Exception as exc:  # a model failure is one lost turn, not a dead call
            yield ErrorFrame(error=f"transcription failed: {exc}")
            return
        finally:
            await self.stop_processing_metrics()
        self._last_asr_seconds = result.seconds
        self._last_asr_window = result.window
        if result.for_dialog:
            yield TranscriptionFrame(result.for_dialog, self._user_id, time_now_iso8601(), finalized=True)

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, CallerTurnFrame) and (frame.no_input or frame.keypad):  # nothing to transcribe
            await FrameProcessor.process_frame(self, frame, direction)
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, CallerTurnFrame):
            # Not STTService.process_frame: that would pass the turn on before it is transcribed.
            await FrameProcessor.process_frame(self, frame, direction)
            text_parts: list[str] = []
            self._last_asr_seconds = self._last_asr_window = None
            task, frame.asr_task = frame.asr_task, None
            audio = frame.audio.astype(np.int16).tobytes()
            source = self._from_speculation(task, audio) if task is not None else self.run_stt(audio)
            async for out in source:
                if isinstance(out, TranscriptionFrame):
                    text_parts.append(out.text)
                    out.metadata["turn_index"] = frame.index
                await self.push_frame(out, direction)
            frame.text = " ".join(text_parts).strip()
            frame.asr_seconds = self._last_asr_seconds
            frame.asr_window = self._last_asr_window
            await self.push_frame(frame, direction)
            return
        await super().process_frame(frame, direction)

    async def _from_speculation(self, task: asyncio.Future, audio: bytes) -> AsyncGenerator[Frame, None]:
        """The turn was transcribed at its last pause (see TurnTakingProcessor): use that."""
        try:
            result = await task
        except Exception:  # cancelled or failed: transcribe the turn now
            result = None
        if result is None:
            async for out in self.run_stt(audio):
                yield out
            return
        self._last_asr_seconds = result.seconds
        self._last_asr_window = result.window
        # A number answer the transcript missed goes to the dialog as its digits-only reading
        # (voice.digit_reading); the end of turn was decided on what was heard.
        text = result.for_dialog  # base's kept reading likewise (voice.second_reading)
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), finalized=True)


class SharedPiperTTSService(TTSService):
    """Speaks with the shared Piper voice; fixed prompts come from a cache instead of the model."""

    def __init__(self, models: SpeechModels, prompt_cache: "PromptCache | None" = None, **kwargs):
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model="piper", voice="en_US-joe-medium", language="en"),
            **kwargs,
        )
        self._models = models
        self._cache = prompt_cache
        self.first_chunk_seconds: list[float] = []  # synthesis start → first audio, per uncached reply

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Sentence by sentence: a cached sentence plays from memory, the others are synthesized,
        so a reply that opens with a fixed sentence ("Sure.", "Your order has shipped.") starts
        at once while its variable part renders behind it."""
        sentences = self._chunks(text)
        await self.start_tts_usage_metrics(text)
        t0 = time.perf_counter()
        first = True
        try:
            for sentence in sentences:
                cached = self._cached(sentence)
                if cached is not None:
                    frames = self._from_cache(cached, context_id)
                else:
                    frames = self._stream_audio_frames_from_iterator(
                        self._sentences(sentence), in_sample_rate=self._models.tts_rate, context_id=context_id
                    )
                async for frame in frames:
                    if first:
                        if cached is None:
                            self.first_chunk_seconds.append(time.perf_counter() - t0)
                        frame.metadata["tts_first_seconds"] = 0.0 if cached is not None else self.first_chunk_seconds[-1]
                        first = False
                    await self.stop_ttfb_metrics()
                    yield frame
        except Exception as exc:
            yield ErrorFrame(error=f"speech synthesis failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()

    def _chunks(self, text: str) -> list[str]:
        """Whole when cached; sentence by sentence when the first sentence is (it plays at once
        and cutting it at a comma would miss the cache); otherwise with a short first chunk."""
        if self._cached(text) is not None:
            return [text]
        sentences = split_sentences(text)
        if sentences and self._cached(sentences[0]) is not None:
            return sentences
        return speakable_chunks(text) or [text]

    def _cached(self, text: str) -> np.ndarray | None:
        return self._cache.get(text, self.sample_rate) if self._cache else None

    async def _from_cache(self, pcm: np.ndarray, context_id: str) -> AsyncIterator[TTSAudioRawFrame]:
        step = self.sample_rate // 10  # 100 ms frames, like a streaming synthesizer
        for i in range(0, len(pcm), step):
            yield TTSAudioRawFrame(pcm[i : i + step].tobytes(), self.sample_rate, 1, context_id=context_id)

    async def _sentences(self, text: str) -> AsyncIterator[bytes]:
        """Piper yields a chunk per sentence; each is rendered in the shared TTS pool."""
        loop = asyncio.get_running_loop()
        it = self._models.synthesize_sync(text)
        while True:
            chunk = await loop.run_in_executor(self._models.tts_pool, next, it, None)
            if chunk is None:
                return
            yield chunk.samples.tobytes()


class PromptCache:
    """Fixed prompts (greeting, please hold, hand-off, goodbye) synthesized once at start-up."""

    def __init__(self, models: SpeechModels, prompts: dict[str, str]):
        self._models = models
        self.prompts = dict(prompts)
        self._native: dict[str, np.ndarray] = {}
        self._by_rate: dict[tuple[str, int], np.ndarray] = {}

    def texts(self) -> list[str]:
        """Each prompt whole and each of its sentences (a reply may open with one of them), once."""
        return list(dict.fromkeys(t for text in self.prompts.values() for t in [text, *split_sentences(text)]))

    def synthesize(self, text: str) -> np.ndarray:
        """One text at the voice's native rate."""
        parts = [c.samples for c in self._models.synthesize_sync(text)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def build(self, render: Callable[[str], np.ndarray] | None = None) -> "PromptCache":
        """Render every text, by Piper unless `render` (text → native-rate int16, e.g. from the
        start-up cache on disk) is given."""
        render = render or self.synthesize
        for t in self.texts():
            if t not in self._native:
                self._native[t] = render(t)
        return self

    def text(self, name: str) -> str:
        return self.prompts[name]

    def get(self, text: str, rate: int) -> np.ndarray | None:
        native = self._native.get(text)
        if native is None:
            return None
        key = (text, rate)
        if key not in self._by_rate:
            self._by_rate[key] = resample(native, self._models.tts_rate, rate)
        return self._by_rate[key]
