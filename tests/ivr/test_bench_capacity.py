"""`ivr bench capacity`: the limits verdict and the RFC 3550 jitter estimate (pure parts)."""

from ivr.tools.bench_capacity import JitterMeter, LevelResult, verdict


def level(p95=800.0, jitter=1.0, failed=0, missed=0):
    return LevelResult(calls=10, seconds=120.0, voice_to_voice_ms={"p50": 500.0, "p95": p95, "p99": p95, "n": 40},
                       jitter_ms={"p95": jitter, "max": jitter}, calls_completed=40, calls_failed=failed,
                       turns_missed=missed, cpu_percent=150.0, rss_mb_peak=900.0, load_avg=[1.0, 1.0, 1.0])


def test_a_level_within_every_limit_holds():
    assert verdict(level()).passed


def test_each_limit_fails_a_level_and_says_which():
    for lv, word in ((level(p95=1300.0), "p95"), (level(jitter=6.0), "jitter"), (level(failed=1), "failed"),
                     (level(missed=2), "unanswered"), (level(p95=None), "p95")):
        v = verdict(lv)
        assert not v.passed and any(word in w for w in v.why), v.why


def test_jitter_of_a_steady_stream_is_zero_and_of_a_wobbly_one_is_not():
    steady, wobbly = JitterMeter(), JitterMeter()
    for i in range(200):
        steady.update(i * 0.02, i * 160)
        wobbly.update(i * 0.02 + (0.004 if i % 2 else 0.0), i * 160)
    assert steady.jitter_ms < 1e-6
    assert 3.0 < wobbly.jitter_ms <= 4.0 + 1e-6  # |D| is 4 ms every packet


def test_the_bench_runs_one_level_end_to_end(tmp_path):
    """The command itself, on one call for a few seconds: a real service, real SIP/RTP, figures
    and the service's stage trace in the JSON (not a verdict on this machine's speed)."""
    import json
    import subprocess

    from tests.support import IVR_CMD

    out = tmp_path / "capacity.json"
    proc = subprocess.run([*IVR_CMD, "bench", "capacity", "--start", "1", "--max", "1", "--hold", "12",
                           "--renderings", "6", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]  # whether the level held is not asserted: a busy machine
    res = json.loads(out.read_text())
    (lv,) = res["levels"]
    assert lv["calls"] == 1 and lv["calls_completed"] >= 1 and lv["calls_failed"] == 0
    assert lv["voice_to_voice_ms"]["n"] >= 1 and lv["rss_mb_peak"] > 100
    assert lv["stages_ms"]["asr"]["n"] >= 1  # the service's own trace, read back through the API


def test_too_few_renderings_is_a_clear_error():
    import subprocess

    from tests.support import IVR_CMD

    proc = subprocess.run([*IVR_CMD, "bench", "capacity", "--renderings", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--renderings must be at least 3" in proc.stderr
