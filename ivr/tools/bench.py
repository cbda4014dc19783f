"""`ivr bench pipeline`: end of caller speech → first bot audio, ours against pipecat's stock pipeline.

Both pipelines get the same telephone-band audio of the same scripted caller at real-time pace
in the same process, one after the other, and the same replies. Latency is measured from where
the caller's speech really ends (known from the synthesis) to the first bot audio, so a pipeline
that waits longer for silence pays for it, as a caller would.
"""

from __future__ import annotations

import asyncio
import json
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice.audio import FRAME_MS, PIPELINE_RATE, Audio, resample, telephone_band
from voice.wer import wer

CALLER_LINES = [
    "Hi, I need to check on an order I placed last week.",
    "It was a pair of running shoes.",
    "The order number is four five six seven eight.",
    "Can you tell me when it will arrive?",
    "I also can't log in to my account.",
    "It keeps saying my password is wrong.",
    "Yes, please send me a reset link.",
    "What is the balance on my account?",
    "I think I was charged twice this month.",
    "Can I get a refund for the second charge?",
    "What time do you open on Saturday?",
    "Are you open on public holidays?",
    "My internet has been down since this morning.",
    "I already restarted the router twice.",
    "No, the lights on the box are all red.",
    "Can someone come out and fix it?",
    "I want to cancel my subscription.",
    "Actually, let me speak to a person.",
    "Okay, I'll wait.",
    "Thanks for your help, goodbye.",
]
REPLY = "Okay. Let me check that for you."
GAP_S = 3.5  # the reply (~2 s) has finished before the caller speaks again


@dataclass
class Script:
    audio16k: np.ndarray  # telephone band, upsampled: what both pipelines hear
    audio: Audio  # the caller recording before the phone line
    ends: list[float]  # where each line's speech really ends
    lines: list[str]


def build_script(models, turns: int) -> Script:
    lines = (CALLER_LINES * (turns // len(CALLER_LINES) + 1))[:turns]
    rate = 16000
    parts, ends, t = [np.zeros(int(7.0 * rate), dtype=np.int16)], [], 7.0  # after the greeting
    for line in lines:
        speech = models.synthesize_all(line, rate)
        loud = np.flatnonzero(np.abs(speech.astype(np.int32)) > 300)
        ends.append(t + (loud[-1] + 1) / rate)
        parts += [speech, np.zeros(int(GAP_S * rate), dtype=np.int16)]
        t += len(speech) / rate + GAP_S
    x = np.concatenate(parts)
    audio = Audio(x, rate)
    return Script(resample(telephone_band(audio), 8000, PIPELINE_RATE), audio, ends, lines)


def _latencies(ends: list[float], first_audio: list[float]) -> list[float]:
    """For each end of speech, the first bot audio after it (and before the next line ends)."""
    out = []
    for i, end in enumerate(ends):
        nxt = ends[i + 1] if i + 1 < len(ends) else float("inf")
        cand = [s for s in first_audio if end < s < nxt]
        if cand:
            out.append(cand[0] - end)
    return out


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q)) if xs else float("nan")


def _summary(xs: list[float]) -> dict:
    return {"p50": round(_pct(xs, 50), 1), "p95": round(_pct(xs, 95), 1), "n": len(xs)}


async def run_ours(engine, script: Script) -> dict:
    from voice.processors import Reply
    from voice.responders import EchoResponder
    from voice.simulate import simulate

    class BenchResponder(EchoResponder):
        def on_turn(self, turn):
            return Reply(REPLY) if (turn.text or "").strip() else None

    captured = {}
    result = await simulate(
        script.audio,
        engine.models,
        engine.prompts,
        BenchResponder(engine.prompts.prompts),
        fast=False,
        on_event=lambda ev: captured.setdefault("events", []).append(ev),
    )
    from calls.events import BotEvent, TurnEvent

    starts = [e.start for e in result.events if isinstance(e, BotEvent) and e.start is not None]
    lat = _latencies(script.ends, starts)
    heard = " ".join(e.text for e in result.events if isinstance(e, TurnEvent))
    return {
        "name": "ivr (webrtcvad turns, shared tiny.en beam 5, shared Piper, prompt cache)",
        "end_of_speech_to_first_audio_ms": _summary(lat),
        "asr_ms": _summary(result.asr_seconds),
        "tts_first_chunk_ms": _summary(result.tts_first_chunk_seconds),
        "turns": sum(isinstance(e, TurnEvent) for e in result.events),
        "wer": round(wer(" ".join(script.lines), heard), 3),
    }, result


async def run_stock(script: Script) -> dict:
    """pipecat 1.14's own local pipeline: SileroVAD (default stop) → WhisperSTTService → PiperTTSService."""
    from ivr.tools.bench_baseline import stock_services
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame, TranscriptionFrame, TTSAudioRawFrame, TTSSpeakFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.audio.vad_processor import VADProcessor
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.workers.runner import WorkerRunner

    t0_box = {}
    first_audio: list[float] = []
    transcripts: list[str] = []

    class Reply(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection):
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame) and frame.text.strip():
                await self.push_frame(TTSSpeakFrame(REPLY))

    class Sink(FrameProcessor):
        def __init__(self):
            super().__init__()
            self._waiting = True

        async def process_frame(self, frame: Frame, direction: FrameDirection):
            await super().process_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame):
                self._waiting = True
                transcripts.append(frame.text)
            elif isinstance(frame, TTSAudioRawFrame) and self._waiting:
                first_audio.append(time.monotonic() - t0_box["t0"])
                self._waiting = False
            await self.push_frame(frame, direction)

    stt, tts = stock_services()
    pipeline = Pipeline([VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt, Reply(), tts, Sink()])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=PIPELINE_RATE, audio_out_sample_rate=8000),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _s(_w, _f):
        started.set()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 60)
    n = PIPELINE_RATE * FRAME_MS // 1000
    x = script.audio16k
    t0 = time.monotonic()
    t0_box["t0"] = t0
    for k in range(len(x) // n):
        await worker.queue_frame(InputAudioRawFrame(audio=x[k * n : (k + 1) * n].tobytes(), sample_rate=PIPELINE_RATE, num_channels=1))
        delay = t0 + (k + 1) * FRAME_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(run, 60)
    lat = _latencies(script.ends, first_audio)
    return {
        "name": "pipecat 1.14 stock (SileroVADAnalyzer default stop_secs, WhisperSTTService, PiperTTSService)",
        "end_of_speech_to_first_audio_ms": _summary(lat),
        # A 0.2 s stop splits callers at their own pauses: more turns than lines, each answered.
        "turns": len(transcripts),
        "wer": round(wer(" ".join(script.lines), " ".join(transcripts)), 3),
    }


def run_bench(args) -> int:
    from ivr.engine import get_engine, quiet_libraries

    quiet_libraries()
    engine = get_engine()
    script = build_script(engine.models, args.turns)
    print(f"caller script: {args.turns} turns, {script.audio.duration:.0f} s of audio per pipeline (real time)", flush=True)
    ours, result = asyncio.run(run_ours(engine, script))
    ours["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    ours["startup_s"] = round(engine.startup_seconds, 2)
    report = {
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, {platform.python_implementation()} {platform.python_version()}",
        "ours": ours,
    }
    print(json.dumps(report["ours"], indent=2), flush=True)
    if not args.no_baseline:
        base = asyncio.run(run_stock(script))
        report["baseline"] = base
        o = ours["end_of_speech_to_first_audio_ms"]["p50"]
        b = base["end_of_speech_to_first_audio_ms"]["p50"]
        report["ratio_p50_ours_over_baseline"] = round(o / b, 3) if b else None
        print(json.dumps(base, indent=2), flush=True)
        print(f"p50 ratio ours/baseline: {report['ratio_p50_ours_over_baseline']}", flush=True)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0
