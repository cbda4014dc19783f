"""`python -m ivr.tools.bench_vad`: runs, and writes a figure a frame for Silero and the detector."""

import json

from ivr.tools.bench_vad import main


def test_the_vad_bench_writes_its_figures(tmp_path, capsys):
    out = tmp_path / "vad.json"
    assert main(["--frames", "30", "--rounds", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["us_per_frame_wall_cpu"]
    assert {"silero", "turn detector", "turn detector, quiet line, Silero on every frame"} <= set(rows)
    assert all(len(v) == 2 for v in rows.values())
    assert all(w > 0 and c >= 0 for v in rows.values() for w, c in v)
    assert "µs a 20 ms frame" in capsys.readouterr().out
