"""End to end: `ivr eval callers --second-reading both` plays a caller tiny.en mishears twice in
one run, without and with Whisper base's second reading, and reports both."""

import json

import pytest

from ivr.cli import main


@pytest.mark.e2e
def test_both_runs_are_reported_and_only_the_second_reads_again(tmp_path):
    out = tmp_path / "eval.json"
    rc = main(["eval", "callers", "--only", "t-billing-twice", "--second-reading", "both",
               "--cache", str(tmp_path / "audio"), "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    without, with_base = (doc["compared"][k]["tune"]["overall"] for k in ("tiny.en only", "second reading"))
    assert without["second_readings"] == 0 and with_base["second_readings"] >= 1
    assert with_base["second_readings"] <= with_base["turns_heard"]
    assert doc["second_reading"] == "second reading"
    windows = [w for line in doc["calls"][0]["lines"] for w in line.get("windows", [])]
    assert any("base" in w for w in windows)
    # Whisper's wall time is counted on top of the simulated wait: never below the media figure.
    assert with_base["dead_air_asr_p95_s"] >= with_base["dead_air_p95_s"]


def test_a_missing_base_model_is_refused_before_any_call(tmp_path, capsys):
    rc = main(["eval", "callers", "--only", "t-billing-twice", "--second-reading", "on", "--base", str(tmp_path)])
    assert rc == 2 and "needs Whisper base" in capsys.readouterr().err
