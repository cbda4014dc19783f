"""The after-call survey's rules: old keys dropped, 1-5 counted, anything else ignored, a deadline."""

import asyncio

import numpy as np

from routing import survey


class Leg:
    def __init__(self, *digits):
        self.dtmf = asyncio.Queue()
        for d in digits:
            self.dtmf.put_nowait(d)
        self.played, self.cleared = [], 0

    def play(self, pcm):
        self.played.append(pcm)

    def clear_playback(self):
        self.cleared += 1


async def _speak(text):
    return np.zeros(80, dtype=np.float32)  # 10 ms


async def test_a_key_from_1_to_5_is_the_score(monkeypatch):
    leg, events, scores = Leg("9"), [], []  # a key pressed before the prompt is not an answer

    async def press():
        await asyncio.sleep(0.01)
        for d in "#74":
            leg.dtmf.put_nowait(d)

    asyncio.get_running_loop().create_task(press())
    score = await survey.run_survey(leg, _speak, events.append, scores.append)
    assert score == 4 and scores == [4]
    assert [e.to_json() for e in events] == [{"event": "survey_started"}, {"event": "survey", "score": 4}]
    assert len(leg.played) == 2 and leg.cleared == 1  # the prompt, then the thanks


async def test_no_key_before_the_deadline_is_no_score(monkeypatch):
    monkeypatch.setattr(survey, "SURVEY_WAIT_S", 0.05)
    leg, events, scores = Leg(), [], []
    assert await survey.run_survey(leg, _speak, events.append, scores.append) is None
    assert events[-1].to_json() == {"event": "survey", "score": None} and scores == [] and len(leg.played) == 1
