"""Silero VAD as a second opinion on where speech starts: noise is not a caller.

webrtcvad (a GMM over band energies, 20 ms frames) marks the frames of a call; on a noisy line it
also marks the first half second of steady noise as speech, and a turn that starts on noise
stops the bot's greeting as a barge-in (the unseen-caller set: pink and white noise at 15-25 dB
SNR cut the greeting at 1.7 s). Silero (a small recurrent network, trained on telephone audio
among much else) does not: turn-taking asks it to agree before a turn, or a barge-in, starts.

The model ships inside pipecat-ai's wheel (`pipecat/audio/vad/data/silero_vad.onnx`). One ONNX
session per process; each call keeps its own recurrent state (`SileroStream`). A 32 ms window
(512 samples at 16 kHz) costs ~70 µs.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from importlib import resources

import numpy as np

from voice.audio import PIPELINE_RATE, int16_to_float

WINDOW = 512  # samples at 16 kHz
CONTEXT = 64


@lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.inter_op_num_threads = 1
    so.intra_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    path = str(resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx"))
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"], sess_options=so)


_lock = threading.Lock()


class SileroStream:
    """One call's Silero state: feed 16 kHz int16 audio in any chunk size, read the latest P(speech)."""

    def __init__(self):
        with _lock:
            self._sess = _session()
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._buf = np.zeros(0, dtype=np.float32)
        self._sr = np.array(PIPELINE_RATE, dtype=np.int64)
        self.probability = 0.0

    def reset(self) -> None:
        """Forget what was heard: the next push starts as at the beginning of a stream."""
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._buf = np.zeros(0, dtype=np.float32)
        self.probability = 0.0

    def push(self, pcm16k: np.ndarray) -> float:
        self._buf = np.concatenate([self._buf, int16_to_float(pcm16k)])
        while len(self._buf) >= WINDOW:
            x = np.concatenate([self._context, self._buf[None, :WINDOW]], axis=1)
            out, self._state = self._sess.run(None, {"input": x, "state": self._state, "sr": self._sr})
            self._context = x[:, -CONTEXT:]
            self._buf = self._buf[WINDOW:]
            self.probability = float(np.asarray(out).reshape(-1)[0])
        return self.probability
