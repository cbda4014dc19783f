"""`ivr bench capacity`: the limits verdict and the RFC 3550 jitter estimate (pure parts)."""

from ivr.tools.bench_capacity import JitterMeter, LevelResult, asr_summary, verdict


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


def test_a_level_s_asr_counts_are_the_difference_with_the_mean_queue_wait():
    d = asr_summary({"runs": 10, "queue_wait_s": 1.0, "cancelled_queued": 2},
                    {"runs": 30, "queue_wait_s": 5.0, "cancelled_queued": 5, "end_read": 4})
    assert d == {"runs": 20, "queue_wait_s": 4.0, "cancelled_queued": 3, "end_read": 4, "queue_wait_ms_mean": 200.0}
    assert asr_summary({}, {}) == {}  # a service without the counters


def test_jitter_of_a_steady_stream_is_zero_and_of_a_wobbly_one_is_not():
    steady, wobbly = JitterMeter(), JitterMeter()
    for i in range(200):
        steady.update(i * 0.02, i * 160)
        wobbly.update(i * 0.02 + (0.004 if i % 2 else 0.0), i * 160)
    assert steady.jitter_ms < 1e-6
    assert 3.0 < wobbly.jitter_ms <= 4.0 + 1e-6  # |D| is 4 ms every packet


def test_too_few_renderings_is_a_clear_error():
    import subprocess

    from tests.support import IVR_CMD

    proc = subprocess.run([*IVR_CMD, "bench", "capacity", "--renderings", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--renderings must be at least 3" in proc.stderr


def test_the_pcap_is_a_continuous_20_ms_ulaw_rtp_stream_sipp_can_read():
    import struct

    import numpy as np

    from ivr.tools.sipp_callers import caller_audio, pcap_bytes, rtp_stream
    from telephony import g711

    tone = (3000 * np.sin(np.arange(800) * 0.3)).astype(np.int16)
    audio = caller_audio([tone], greeting_wait_s=0.1, reply_wait_s=0.1)
    assert len(audio) == 800 + 800 + 800
    packets = rtp_stream(audio)
    assert len(packets) == 15 and all(len(p) == 12 + 160 for p in packets)
    v, pt, seq, ts, _ = struct.unpack("!BBHII", packets[7][:12])
    assert (v, pt, seq, ts) == (0x80, 0, 7, 7 * 160)
    assert np.abs(g711.ulaw_decode(packets[7][12:]).astype(int) - audio[7 * 160:8 * 160]).max() < 200
    data = pcap_bytes(packets)
    magic, major, minor, _, _, snap, link = struct.unpack("<IHHiIII", data[:24])
    assert (magic, major, minor, link) == (0xA1B2C3D4, 2, 4, 1)
    off, times = 24, []
    while off < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16: off + 16 + incl]
        assert incl == orig and frame[12:14] == b"\x08\x00" and frame[14 + 9] == 17  # Ethernet, IPv4, UDP
        times.append(sec + usec / 1e6)
        off += 16 + incl
    assert len(times) == 15 and np.allclose(np.diff(times), 0.02)


def test_sipp_s_counters_and_calls_at_once_are_read_from_its_stat_rows(tmp_path):
    """Counters are cumulative (the last row); calls in progress are per row (most and mean)."""
    from ivr.tools.sipp_callers import read_concurrency, read_counts

    f = tmp_path / "s.csv"
    f.write_text("StartTime;CurrentCall;SuccessfulCall(C);FailedCall(C);\n0;3;1;0;\n1;9;7;2;\n2;6;7;2;\n")
    assert read_counts(f) == (7, 2)
    assert read_concurrency(f) == (9, 6.0)
    assert read_counts(tmp_path / "missing.csv") == (0, 0)
    assert read_concurrency(tmp_path / "missing.csv") == (0, 0.0)


def test_the_capacity_curve_is_an_svg_with_a_point_per_level_coloured_by_verdict():
    import xml.etree.ElementTree as ET
    from dataclasses import asdict

    from ivr.tools.capacity_curve import capacity_svg

    held, failed = verdict(level(p95=700.0)), verdict(level(p95=1500.0))
    failed.calls = 20
    svg = capacity_svg([asdict(held), asdict(failed)], 1200.0, "t")
    root = ET.fromstring(svg)
    circles = [e for e in root.iter() if e.tag.endswith("circle")]
    assert [c.get("fill") for c in circles] == ["#2a2", "#c00"]
    assert "p95 limit 1200 ms" in svg and len([e for e in root.iter() if e.tag.endswith("polyline")]) == 3


def test_a_short_sweep_with_sipp_callers_end_to_end(tmp_path):
    """The command itself (`make capacity`'s callers), on two levels for a few seconds: a real
    service, real SIP/RTP; sipp's pcap callers beside one UA probe: sipp's calls complete and
    count, the service's own trace covers them (more turns than the probe's), the figures are in
    the JSON and the curve is written (not a verdict on this machine's speed)."""
    import json
    import subprocess

    from tests.support import IVR_CMD

    out = tmp_path / "capacity.json"
    proc = subprocess.run([*IVR_CMD, "bench", "capacity", "--callers", "sipp", "--probes", "1", "--start", "2", "--step", "1",
                           "--max", "3", "--hold", "10", "--renderings", "6", "--json", str(out)],
                          capture_output=True, text=True, timeout=400)
    res = json.loads(out.read_text())
    assert res["callers"] == "sipp" and res["levels"], proc.stdout[-2000:] + proc.stderr[-2000:]
    lv = res["levels"][0]
    assert lv["light_calls"] == 1 and lv["light_completed"] >= 1 and lv["light_failed"] == 0, lv
    assert lv["light_peak_concurrent"] == 1  # read from sipp's own stat rows
    assert lv["calls"] == 2 and lv["calls_completed"] >= 1 and lv["calls_failed"] == 0
    assert lv["voice_to_voice_ms"]["n"] >= 1 and lv["rss_mb_peak"] > 100  # the probe's, at the wire
    assert lv["cpu_ms_per_turn"] > 0 and lv["asr"]["runs"] >= lv["stages_ms"]["asr"]["n"]  # /metrics' ivr_asr_*
    assert lv["stages_ms"]["asr"]["n"] > lv["voice_to_voice_ms"]["n"]  # sipp's turns are in the service's trace
    assert lv["callers_cpu_percent"] < lv["cpu_percent"]  # the light callers are light
    assert out.with_suffix(".svg").read_text().startswith("<svg")


def test_sipp_starts_calls_fast_enough_to_keep_the_level_up():
    """A call lasts ~31 s: at the 1.13 s stagger alone sipp could keep only ~27 going, so a level
    of 40 ran 27 (the fourth round's levels above 27 were not what they said)."""
    from ivr.tools.sipp_callers import call_period_s

    assert call_period_s(2, 31.0, 1.13) == 1.13
    for calls in (27, 34, 40, 60):
        period = call_period_s(calls, 31.0, 1.13)
        assert 31.0 / period >= calls  # the most sipp can keep up at once


def test_sipp_places_a_bounded_number_of_calls_a_level(tmp_path):
    """Calls refused at once made sipp place the calls its rate owed as fast as it could (219,000
    attempts in a level): `-m` bounds them at twice what a healthy level places."""
    from ivr.tools.sipp_callers import SippCallers, call_budget

    healthy = 40 * (1 + 120 / 31)  # each slot's first call, then one per call length held
    assert healthy < call_budget(40, 120.0, 31.0) <= 2 * healthy + 10 + 80
    assert call_budget(40, 120.0, 31.0) < 1000
    cmd = SippCallers(tmp_path / "s.xml", 5060, 40, tmp_path, 31.0, max_calls=call_budget(40, 120.0, 31.0)).cmd
    assert cmd[cmd.index("-m") + 1] == str(call_budget(40, 120.0, 31.0))
    assert "-m" not in SippCallers(tmp_path / "s.xml", 5060, 40, tmp_path, 31.0).cmd


def test_a_level_whose_callers_never_reached_it_does_not_hold():
    lv = level(p95=700.0)
    lv.light_calls, lv.light_peak_concurrent = 38, 27
    v = verdict(lv)
    assert not v.passed and "sipp reached 27 of its 38 calls at once" in v.why
    lv.light_peak_concurrent = 38
    assert verdict(lv).passed


def test_a_proc_stat_line_gives_the_parent_and_all_cpu_ticks_even_with_spaces_in_the_name():
    from ivr.tools.capacity_target import parse_stat

    line = "4242 (ivr (w1) serve) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 5 0 1 2 3\n"
    assert parse_stat(line) == (17, 250 + 50 + 7 + 3)


def test_cpu_counts_a_process_and_its_children():
    """The cluster's CPU is its workers', Kamailio's forked children's and PostgreSQL's backends'."""
    import subprocess
    import sys

    import time

    from ivr.tools.capacity_target import ProcStat

    spin = "import time; t = time.process_time(); exec('while time.process_time() - t < 0.4: pass')"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}]); "
                               "sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        stat = ProcStat(parent.pid)
        deadline = time.monotonic() + 20
        while stat.cpu_seconds() < 0.4 and time.monotonic() < deadline:  # the child's spin, reaped into cutime
            time.sleep(0.05)
        assert stat.cpu_seconds() >= 0.4
        assert stat.rss_mb() > 1
    finally:
        parent.communicate(b"", timeout=10)
