"""`ivr train frustration`: re-fit the weights from labelled turns, refuse bad files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ivr.tools import train_frustration as tr
from nlu.frustration_text import text_cues
from nlu.fusion import DEFAULT_WEIGHTS_PATH, PROSODY_FEATURES, DialogueSignals, FrustrationWeights, turn_features

ROOT = Path(__file__).resolve().parents[2]


def _args(**kw) -> argparse.Namespace:
    base = {"turns": None, "out": None, "base": None, "holdout": 0.25, "seed": 0, "c": 1.0, "json": None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_train_writes_weights_that_change_the_score(small_turns, tmp_path, capsys):
    out = tmp_path / "w" / "weights.json"
    report = tmp_path / "report.json"
    assert tr.run(_args(turns=str(small_turns), out=str(out), base=str(DEFAULT_WEIGHTS_PATH), json=str(report))) == 0
    shipped, new = FrustrationWeights.load(), FrustrationWeights.load(out)
    assert new.source.startswith("ivr train frustration") and new.weights != shipped.weights
    calm = turn_features(text_cues("where is my order please"), {}, DialogueSignals())
    angry = turn_features(text_cues("this is ridiculous, get me a real person"), {}, DialogueSignals())
    assert new.score(calm) != shipped.score(calm)
    assert new.score(angry) > new.score(calm)
    # text-only turns say nothing about prosody: those weights are kept, not zeroed
    voice = [k for k in PROSODY_FEATURES if k in shipped.weights]
    assert voice and all(new.weights[k] == shipped.weights[k] for k in voice)
    assert "kept from before" in new.source
    doc = json.loads(report.read_text())
    assert doc["turns"] == 12 and doc["before"]["auc"] is not None and doc["after"]["auc"] is not None
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and str(out) in text


def test_jsonl_dispositions_with_prosody_refit_prosody(tmp_path):
    rows = []
    for i in range(10):
        angry = i % 2 == 0
        z = 2.0 + 0.1 * i if angry else -0.5 + 0.1 * i
        rows.append({"text": "I need help with my account", "frustrated": angry,
                     "prosody": {"pitch_median_hz": 120.0, "pitch_median_hz_z": z, "energy_db_z": z / 2},
                     "dialogue": {"barge_in": angry and i % 4 == 0, "no_match_count": 0}})
    path = tmp_path / "dispositions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    out = tmp_path / "w.json"
    assert tr.run(_args(turns=str(path), out=str(out), base=str(DEFAULT_WEIGHTS_PATH))) == 0
    w = FrustrationWeights.load(out)
    shipped = FrustrationWeights.load()
    assert w.weights["pitch_median_z"] != shipped.weights.get("pitch_median_z", 0.0) and w.weights["pitch_median_z"] > 0
    assert w.weights["voice_arousal"] == shipped.weights["voice_arousal"]  # never varied: kept
    assert "pitch_range_z" not in w.weights  # never varied and not weighted before: stays out
    loud = turn_features(text_cues("hello"), {"pitch_median_hz_z": 2.5, "energy_db_z": 1.2}, DialogueSignals())
    quiet = turn_features(text_cues("hello"), {"pitch_median_hz_z": -0.5, "energy_db_z": -0.2}, DialogueSignals())
    assert w.score(loud) > 0.5 > w.score(quiet)


def test_default_out_is_the_base(small_turns, tmp_path):
    out = tmp_path / "w.json"
    FrustrationWeights.load().save(out)
    assert tr.run(_args(turns=str(small_turns), out=str(out))) == 0  # base defaults to --out
    assert FrustrationWeights.load(out).source.startswith("ivr train frustration")


BAD = {
    "missing.yaml": None,
    "label.yaml": "turns:\n  - {text: hello, frustrated: yes please}\n",
    "nolabel.yaml": "- {text: hello}\n- {text: hi, frustrated: true}\n",
    "syntax.yaml": "turns: [ {text: 'unclosed\n",
    "notalist.yaml": "turns: 5\n",
    "oneclass.yaml": "".join(f"- {{text: 'fine {i}', frustrated: false}}\n" for i in range(6)),
    "dialogue.yaml": "- {text: a, frustrated: true, dialogue: {shouting: 1}}\n",
    "prosody.jsonl": '{"text": "a", "frustrated": true, "prosody": {"energy_db_z": "loud"}}\n',
    "broken.jsonl": '{"text": "a", "frustrated": true}\n{"text": "b", "frus\n',
    "turns.csv": "text,frustrated\nhello,false\n",
    "field.jsonl": '{"txt": "a", "frustrated": true}\n',
    "empty.yaml": "",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exits_2_with_one_line(name, tmp_path, capsys):
    path = tmp_path / name
    if BAD[name] is not None:
        path.write_text(BAD[name])
    out = tmp_path / "w.json"
    assert tr.run(_args(turns=str(path), out=str(out), base=str(DEFAULT_WEIGHTS_PATH))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ivr train frustration: ") and str(path) in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_bad_base_weights_exit_2(small_turns, tmp_path, capsys):
    base = tmp_path / "base.json"
    base.write_text('{"bias": 0, "weights": {"text_mood": 1}}')
    assert tr.run(_args(turns=str(small_turns), out=str(tmp_path / "w.json"), base=str(base))) == 2
    assert "unknown" in capsys.readouterr().err


def test_shipped_labelled_turns_are_valid_and_varied():
    turns = tr.load_turns(ROOT / "nlu" / "data" / "caller_turns_labelled.yaml")
    assert len(turns) >= 120
    pos = sum(t.frustrated for t in turns)
    assert 0.3 < pos / len(turns) < 0.6
    assert len({t.text.lower() for t in turns}) == len(turns)
    assert any(t.dialogue != DialogueSignals() for t in turns if t.frustrated)
    assert any(t.dialogue != DialogueSignals() for t in turns if not t.frustrated)


def test_agents_dispositions_become_training_data(tmp_path, capsys):
    """The desktop's disposition form feeds `ivr train frustration --from-store`."""
    from store import Store

    url = f"sqlite:///{tmp_path}/dispo.db"
    store = Store(url)
    lines = {True: ["this is ridiculous, I have called three times", "I am so fed up with this, get me a person"],
             False: ["hi, I would like to know where my order is", "thanks, could you check the delivery date"]}
    for n in range(6):
        frustrated = n % 2 == 0
        cid = store.call_started(None, None)
        for i, text in enumerate(lines[frustrated]):
            store.record_event(cid, {"event": "turn", "index": i, "text": f"{text} ({n})",
                                     "prosody": {"pitch_median_hz_z": 2.0 if frustrated else -0.2, "voiced": None},
                                     "frustration": {"score": 0.5, "smoothed": 0.5}})
        store.call_ended(cid, "transferred")
        store.flush_sync()
        store.accounts.add_disposition(cid, "alice", escalation_right=frustrated, caller_frustrated=frustrated,
                                       reason_tag="frustrated_caller" if frustrated else "bot_could_have_solved")
    records = tr.disposition_records(store)
    store.close()
    assert len(records) == 12 and sum(r["frustrated"] for r in records) == 6
    assert records[1]["previous"] == [records[0]["text"]] and "voiced" not in records[0]["prosody"]
    out = tmp_path / "w.json"
    assert tr.run(_args(turns=None, from_store=url, out=str(out), base=str(DEFAULT_WEIGHTS_PATH), json=None)) == 0
    assert "12 labelled turns" in capsys.readouterr().out
    assert FrustrationWeights.load(out).weights != FrustrationWeights.load(DEFAULT_WEIGHTS_PATH).weights
    empty = f"sqlite:///{tmp_path}/empty.db"
    Store(empty).close()
    assert tr.run(_args(turns=None, from_store=empty, out=str(out), base=str(DEFAULT_WEIGHTS_PATH), json=None)) == 2
    assert "more dispositions first" in capsys.readouterr().err
