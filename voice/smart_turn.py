"""Smart Turn v3.2: how finished the caller's voice sounds at a pause, from audio alone.

pipecat-ai's wheel ships the model (`pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx`,
a Whisper-tiny encoder with a classifier, 16 kHz, the last 8 s of the turn); pipecat's own
analyzer wraps it in a VAD state machine of its own, so this module loads the same file and
feature code and answers one question: P(the turn is complete) for the audio so far. It hears
what the transcript cannot: a filled pause Whisper drops ("I want to move, uh," comes back as
"I want to move."), a drawn-out last syllable, a rising, unfinished intonation.

One ONNX session per process (8.7 MB), one thread per run (~40-50 ms on one core here), behind
its own single-worker executor so it runs beside Whisper instead of queueing behind it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources

import numpy as np

from voice.audio import PIPELINE_RATE, int16_to_float

WINDOW_S = 8  # the model's input: the last 8 s, zero-padded at the front


def model_path() -> str:
    return str(resources.files("pipecat.audio.turn.smart_turn.data").joinpath("smart-turn-v3.2-cpu.onnx"))


def window(pcm16k: np.ndarray) -> np.ndarray:
    """The last WINDOW_S seconds as float32 in [-1, 1], zero-padded at the front (as trained)."""
    x = int16_to_float(pcm16k) if pcm16k.dtype == np.int16 else pcm16k.astype(np.float32)
    n = WINDOW_S * PIPELINE_RATE
    if len(x) >= n:
        return x[-n:]
    return np.concatenate([np.zeros(n - len(x), dtype=np.float32), x])


class SmartTurn:
    """P(complete) for a turn's audio so far; thread-safe, loaded on first use."""

    def __init__(self, threads: int = 1):
        self._threads = threads
        self._session = None
        self._lock = threading.Lock()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="smart-turn")

    def load(self) -> None:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                so = ort.SessionOptions()
                so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                so.inter_op_num_threads = 1
                so.intra_op_num_threads = self._threads
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(model_path(), sess_options=so)

    def probability_sync(self, pcm16k: np.ndarray) -> float:
        from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

        self.load()
        feats = compute_whisper_log_mel_features(window(pcm16k), do_normalize=True)
        out = self._session.run(None, {"input_features": feats[None].astype(np.float32)})
        return float(np.asarray(out[0]).reshape(-1)[0])

    async def probability(self, pcm16k: np.ndarray) -> float:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.probability_sync, pcm16k)
