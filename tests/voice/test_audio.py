import numpy as np
import pytest
import soundfile as sf

from voice.audio import AudioError, frames, read_wav, resample, telephone_band, write_wav


def tone(rate, seconds=1.0, hz=440.0, amp=0.3):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * hz * t) * 32767).astype(np.int16)


@pytest.mark.parametrize("rate,channels,subtype", [(8000, 1, "PCM_16"), (44100, 2, "PCM_16"), (48000, 1, "FLOAT"), (22050, 2, "PCM_24")])
def test_reads_any_usual_rate_and_channel_count(tmp_path, rate, channels, subtype):
    x = tone(rate)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    p = tmp_path / "a.wav"
    sf.write(p, data.astype(np.float32) / 32768 if subtype == "FLOAT" else data, rate, subtype=subtype)
    a = read_wav(p)
    assert a.rate == rate and a.samples.ndim == 1 and a.samples.dtype == np.int16
    assert abs(a.duration - 1.0) < 1e-3
    assert np.corrcoef(a.samples.astype(float), x.astype(float))[0, 1] > 0.999


def test_telephone_band_is_8k_and_lossy_but_faithful():
    x = tone(16000, hz=1000)
    from voice.audio import Audio

    y = telephone_band(Audio(x, 16000))
    assert len(y) == 8000  # one second at 8 kHz
    ref = resample(x, 16000, 8000).astype(float)
    assert not np.array_equal(y, ref.astype(np.int16))  # µ-law really quantised it
    assert np.corrcoef(y.astype(float), ref)[0, 1] > 0.999


def test_nothing_above_4k_survives_the_phone():
    from voice.audio import Audio

    y = telephone_band(Audio(tone(16000, hz=6000), 16000))
    assert np.sqrt(np.mean(y.astype(float) ** 2)) < 60  # the 6 kHz tone is gone (µ-law noise only)


def test_frames_pad_the_last_one():
    fs = frames(np.ones(401, dtype=np.int16), 16000)
    assert [len(f) for f in fs] == [320, 320]
    assert fs[-1][81:].sum() == 0


@pytest.mark.parametrize(
    "content,message",
    [(None, "no such file"), (b"", "empty"), (b"this is not audio at all" * 10, "not a readable audio file")],
)
def test_bad_files_raise_audio_error(tmp_path, content, message):
    p = tmp_path / "x.wav"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(AudioError, match=message):
        read_wav(p)


def test_truncated_wav_is_refused(tmp_path):
    p = tmp_path / "full.wav"
    write_wav(p, tone(16000, seconds=2), 16000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(p.read_bytes()[:20000])
    with pytest.raises(AudioError, match="truncated"):
        read_wav(cut)


def test_upsampler_hands_every_frame_on_at_once_and_matches_soxr():
    """The live path's 8 → 16 kHz step may not hold audio back: soxr's streaming resampler kept
    66-80 ms in its filter, which delayed every end of turn by as much."""
    from voice.audio import Upsampler, resample

    t = np.arange(8000) / 8000
    x = (8000 * np.sin(2 * np.pi * 1000 * t) + 3000 * np.sin(2 * np.pi * 2500 * t)).astype(np.int16)
    up = Upsampler()
    out = []
    for i in range(0, 8000, 160):
        got = up.push(x[i : i + 160])
        assert len(got) == 1 and len(got[0]) == 320  # one 20 ms frame in, one out: nothing held
        out += got
    y = np.concatenate(out).astype(float)
    ref = resample(x, 8000, 16000).astype(float)
    d = 24  # the filter's own delay: 1.5 ms
    err = y[d + 100 : -200] - ref[100 : -200 - d]
    assert 20 * np.log10(np.sqrt(np.mean(err**2)) / np.sqrt(np.mean(ref**2))) < -60
    with pytest.raises(ValueError):
        Upsampler(8000, 22050)
