"""`ivr eval asr --phrases`: the short-phrase set and what each configuration did with it."""

from ivr.tools import eval_asr


def test_phrases_are_synthesized_and_scored_with_their_windows(monkeypatch):
    monkeypatch.setattr(eval_asr, "SHORT_PHRASES", ["Order status.", "Talk to a person."])
    clips = eval_asr.synth_phrases()
    assert len(clips) == 2 * len(eval_asr.PHRASE_RATES) * 2  # clean and noisy at each rate
    assert {c["id"].split("/")[0] for c in clips} == {"clean", "noisy"}
    assert all(0.3 < c["seconds_audio"] < 4.0 for c in clips)

    service = next(c for c in eval_asr.configs(None) if "(service)" in c.name)
    r = eval_asr.evaluate(service, clips)
    assert r["wer"] < 0.3, r["clips"]  # the bundled voice, clean or at 20 dB, is intelligible
    assert all(row["window"].startswith(("fitted", "standard")) for row in r["clips"])
    assert r["read_twice"] + r["full_window_redo"] <= len(clips)
    assert set(r["wer_by_source"]) == {"clean", "noisy"}
