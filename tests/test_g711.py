import numpy as np
import pytest

from telephony import g711


@pytest.mark.parametrize("enc,dec", [(g711.ulaw_encode, g711.ulaw_decode), (g711.alaw_encode, g711.alaw_decode)])
def test_round_trip_error_is_within_g711_quantisation(enc, dec):
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal(8000) * 6000).clip(-32768, 32767).astype(np.int16)
    back = dec(enc(pcm)).astype(np.int32)
    err = np.abs(back - pcm.astype(np.int32))
    # G.711 keeps ~13-14 bits near zero and a relative step of at most 1/16 at the top.
    assert np.all(err <= np.maximum(np.abs(pcm.astype(np.int32)) // 15, 16))
    snr = 10 * np.log10(np.sum(pcm.astype(float) ** 2) / np.sum((back - pcm) ** 2.0))
    assert snr > 30


def test_codes_decode_to_themselves():
    for enc, dec in [(g711.ulaw_encode, g711.ulaw_decode), (g711.alaw_encode, g711.alaw_decode)]:
        codes = np.arange(256, dtype=np.uint8)
        assert enc(dec(codes.tobytes())) == codes.tobytes() or np.array_equal(
            dec(enc(dec(codes.tobytes()))), dec(codes.tobytes())
        )


def test_known_values():
    # ITU-T G.711: µ-law of 0 is 0xFF, A-law of 0 is 0xD5; full-scale negative µ-law is 0x00.
    assert g711.ULAW_SILENCE == 0xFF
    assert g711.ALAW_SILENCE == 0xD5
    assert g711.ulaw_encode(np.array([-32768], dtype=np.int16)) == b"\x00"
    assert g711.ulaw_decode(b"\x80")[0] == 32124


def test_transcode_preserves_signal():
    t = np.arange(800) / 8000
    pcm = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    via = g711.ulaw_decode(g711.alaw_to_ulaw(g711.alaw_encode(pcm))).astype(float)
    assert np.corrcoef(via, pcm)[0, 1] > 0.999
