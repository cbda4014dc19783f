"""The unseen-caller set's script format: markers, defaults, and the held-out rules the loader keeps."""

import pytest

from ivr.tools.caller_script import (
    DEFAULT_SET,
    Piece,
    ScriptError,
    has_pause,
    load_set,
    parse_line,
    parse_set,
    plain_text,
    spoken_digits,
)


def test_markers_become_pieces_in_order():
    pieces = parse_line("I want to move, {uh} {pause 0.9} my delivery to Friday")
    assert pieces == (Piece("speech", "I want to move,"), Piece("filler", "uh"), Piece("pause", seconds=0.9),
                      Piece("speech", "my delivery to Friday"))
    assert plain_text(pieces) == "I want to move, my delivery to Friday"
    assert plain_text(pieces, fillers=True) == "I want to move, uh my delivery to Friday"


def test_a_pause_inside_counts_one_at_the_end_does_not():
    assert has_pause(parse_line("seven seven, {pause 1.0} two two"))
    assert has_pause(parse_line("{um} {pause 0.6} I can't log in"))  # the turn starts with the filler
    assert not has_pause(parse_line("Where's my parcel?"))
    assert not has_pause(parse_line("Yes. {pause 1.0}"))


@pytest.mark.parametrize("line, message", [
    ("hello {pause}", "pause needs seconds"),
    ("hello {pause x}", "pause needs seconds"),
    ("hello {pause 4}", "outside"),
    ("hello {laugh}", "unknown marker"),
    ("hello {pause 1.0", "unbalanced"),
    ("hello } there", "unbalanced"),
    ("{um} {pause 0.5}", "no words"),
])
def test_bad_markers_are_refused_naming_the_line(line, message):
    with pytest.raises(ScriptError, match=message):
        parse_line(line)


def _doc(**caller):
    base = {"id": "c1", "intent": "order_status", "voice": "v", "opening": "Where is my order?", "order": "45678"}
    return {"voices": {"v": {"engine": "piper"}, "secret": {"engine": "espeak", "voice": "en-029", "heldout_only": True}},
            "tune": [{**base, **caller}]}


def test_defaults_come_from_the_intent():
    c = parse_set(_doc()).callers[0]
    assert c.expect.step == "order_lookup" and c.expect.first_intent == "order_status" and not c.expect.handoff
    assert c.order.digits == "45678" and c.order.say == "four five six seven eight"
    h = parse_set(_doc(intent="fraud_stolen_card", order=None)).callers[0]
    assert h.expect.handoff and h.expect.reasons == ("sensitive_intent",)
    assert spoken_digits("1010") == "one zero one zero"


@pytest.mark.parametrize("change, message", [
    ({"voice": "secret"}, "heldout_only"),
    ({"voice": "nobody"}, "unknown voice"),
    ({"intent": "weather"}, "intent must be"),
    ({"order": None}, "needs order"),
    ({"order": {"digits": "45a78"}}, "digits must be digits"),
    ({"noise": "traffic 10"}, "noise must be"),
    ({"noise": "pink loud"}, "SNR"),
    ({"yes": "{pause 1}"}, "c1 yes"),
])
def test_invalid_callers_are_refused(change, message):
    with pytest.raises(ScriptError, match=message):
        parse_set(_doc(**change))


def test_duplicate_ids_are_refused():
    doc = _doc()
    doc["heldout"] = [dict(doc["tune"][0])]
    with pytest.raises(ScriptError, match="duplicate caller ids: c1"):
        parse_set(doc)


def test_the_shipped_set_keeps_its_held_out_rule():
    s = load_set(DEFAULT_SET)
    tune, held = s.split("tune"), s.split("heldout")
    assert len(s.callers) >= 48 and abs(len(tune) - len(held)) <= 4
    held_only = {c.voice.id for c in held} - {c.voice.id for c in tune}
    assert len(held_only) >= 2 and all(s.voices[v].heldout_only for v in held_only)
    # Written separately: no line of a heldout caller is a line of a tune caller.
    tune_lines = {t.lower() for c in tune for k, t in c.lines().items() if k in ("opening", "preamble", "restate")}
    assert not [c.id for c in held if c.opening.lower() in tune_lines or (c.preamble or "").lower() in tune_lines]
    for split in (tune, held):  # every intent, keypad callers, sarcasm, pauses and noise in both halves
        assert {c.intent for c in split} == {c.intent for c in s.callers}
        assert any(c.keypad for c in split) and any(c.preamble for c in split)
        assert sum(c.with_pauses for c in split) >= 5 and sum(c.noise is not None for c in split) >= 4


def test_punctuation_between_markers_is_not_a_line_to_say():
    from ivr.tools.caller_script import parse_line

    pieces = parse_line("it's been, {um}, {pause 0.7} well, six")
    assert [p.kind for p in pieces] == ["speech", "filler", "pause", "speech"]
