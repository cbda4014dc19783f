"""`ivr train arousal`'s training histories: a caller's earlier turns as calls have them."""

from __future__ import annotations

import random

from ivr.tools import train_arousal as ta


def _samples(make_voice_sample):
    rng = random.Random(4)
    return [make_voice_sample(spk, i % 2 == 1, rng) for spk in ("a", "b") for i in range(10)]


def test_histories_in_the_callers_own_state(make_voice_sample):
    samples = _samples(make_voice_sample)
    state = {id(s.prosody): s.agitated for s in samples}
    speaker = {id(s.prosody): s.speaker for s in samples}
    same = ta.call_histories(samples, same_state=1.0)
    assert len(same) == len(samples)
    for s, hist in same:
        assert 1 <= len(hist) <= ta.HISTORY_TURNS and s.prosody not in hist
        assert all(state[id(h)] == s.agitated and speaker[id(h)] == s.speaker for h in hist)
    mixed = ta.call_histories(samples, same_state=0.0)
    assert any(state[id(h)] != s.agitated for s, hist in mixed for h in hist)
    assert all(speaker[id(h)] == s.speaker for s, hist in mixed for h in hist)


def test_histories_are_seeded_and_half_in_state_by_default(make_voice_sample):
    samples = _samples(make_voice_sample)
    a, b = ta.call_histories(samples), ta.call_histories(samples)
    assert [[id(h) for h in x[1]] for x in a] == [[id(h) for h in x[1]] for x in b]
    assert ta.SAME_STATE == 0.5
    # with-baseline model fits on them and keeps the population features of the first-turn model
    model = ta.fit_model(samples)
    assert set(model.first.features) < set(model.relative.features)
