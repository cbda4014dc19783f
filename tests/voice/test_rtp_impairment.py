"""Real read speech (LibriVox clips from pocketsphinx-testdata) sent as G.711 RTP through a relay
that drops and delays packets like `netem loss 5% delay 20ms 10ms` (this kernel has no netem:
see cluster/impair.py), received through the endpoint's RTP session and jitter buffer with its
loss concealment, and transcribed by the service's Whisper: what a caller says is still usable
at 5 % loss."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest

from cluster.impair import Impairment, UdpImpairer
from telephony.media import RtpSession, bind_rtp_pair
from telephony.sdp import MediaParams
from voice.audio import read_wav, resample
from voice.wer import word_errors

pytestmark = pytest.mark.e2e
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIPS = ["sense_and_sensibility_01_austen_64kb-0870", "sense_and_sensibility_01_austen_64kb-0920"]


def _references() -> dict[str, str]:
    out = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        text, _, rest = line.rpartition("(")
        out[rest.strip(") ")] = text.replace("<s>", "").replace("</s>", "").strip()
    return out


async def send_through(pcm8k: np.ndarray, impairment: Impairment) -> tuple[np.ndarray, UdpImpairer]:
    rx_rtp, rx_rtcp, rx_port = await bind_rtp_pair("127.0.0.1", (30000, 32000))
    tx_rtp, tx_rtcp, tx_port = await bind_rtp_pair("127.0.0.1", (32000, 34000))
    relay = await UdpImpairer(("127.0.0.1", rx_port), impairment).start()
    rx = RtpSession(rx_rtp, rx_rtcp, rx_port, jitter_ms=60)
    tx = RtpSession(tx_rtp, tx_rtcp, tx_port)
    rx.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", relay.port), "recvonly"))
    tx.configure(MediaParams([("PCMU", 0)], 101, ("127.0.0.1", relay.port), "sendonly"))
    got: list[np.ndarray] = []
    try:
        rx.start()
        tx.play(pcm8k.astype("<i2").tobytes())
        tx.start()
        want = len(pcm8k) + 8000  # all of it, plus the jitter buffer's delay and a margin
        while sum(len(g) for g in got) < want:
            frame = await asyncio.wait_for(rx.frames.get(), 5)
            assert frame is not None
            got.append(np.frombuffer(frame, dtype=np.int16))
    finally:
        await tx.close()
        await rx.close()
        relay.close()
    return np.concatenate(got), relay


@pytest.mark.skipif(not LIBRIVOX.exists(), reason="pocketsphinx-testdata not installed")
async def test_transcripts_stay_usable_at_5_percent_loss_with_jitter(models):
    refs = _references()
    clean_errors = lossy_errors = words = 0
    for clip in CLIPS:
        audio = read_wav(LIBRIVOX / f"{clip}.wav")
        pcm8k = resample(audio.samples, audio.rate, 8000).astype(np.int16)
        (clean, _), (lossy, relay) = await asyncio.gather(  # both paths at once: half the wall time
            send_through(pcm8k, Impairment()), send_through(pcm8k, Impairment(loss=0.05, delay_ms=20, jitter_ms=10, seed=7)))
        assert 0.03 <= relay.dropped / (relay.dropped + relay.forwarded) <= 0.08  # the path really lost ~5 %
        for received, kind in ((clean, "clean"), (lossy, "lossy")):
            text = (await asyncio.to_thread(models.transcribe_sync, resample(received, 8000, 16000))).text
            errors, n = word_errors(refs[clip], text)
            if kind == "clean":
                clean_errors += errors
                words += n
            else:
                lossy_errors += errors
            print(f"{clip} {kind}: {text!r} ({errors}/{n} word errors)")
    clean_wer, lossy_wer = clean_errors / words, lossy_errors / words
    print(f"WER clean {clean_wer:.3f}, 5% loss + 20±10 ms jitter {lossy_wer:.3f} (load {os.getloadavg()[0]:.1f})")
    assert lossy_wer <= 0.25 and lossy_wer <= clean_wer + 0.15
