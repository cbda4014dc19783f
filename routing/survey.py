"""The after-call survey: the caller rates the call 1-5 by DTMF once the agent hangs up.

The caller's leg is anything with ``dtmf`` (an asyncio.Queue of digits), ``play``, and
``clear_playback``; speaking, recording the score and reporting events are the caller's
(``speak``, ``on_score``, ``on_event``), so this holds only the survey's own rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

from calls.events import CallEvent, SurveyEvent, SurveyStartedEvent

SURVEY_PROMPT = "Before you go: how did we do? Press a key from 1 to 5, where 5 is excellent."
SURVEY_THANKS = "Thank you. Goodbye."
SURVEY_WAIT_S = 8.0  # seconds after the prompt ends for a key
RATE = 8000  # the leg's sample rate (G.711)


async def run_survey(leg, speak: Callable[[str], Awaitable[np.ndarray]], on_event: Callable[[CallEvent], None],
                     on_score: Callable[[int], None]) -> int | None:
    """Ask, wait for a key 1-5 (others ignored) until the prompt's length plus SURVEY_WAIT_S; the score or None."""
    while not leg.dtmf.empty():
        leg.dtmf.get_nowait()
    prompt = await speak(SURVEY_PROMPT)
    leg.play(prompt.astype(np.int16).tobytes())
    on_event(SurveyStartedEvent())
    deadline = asyncio.get_running_loop().time() + len(prompt) / RATE + SURVEY_WAIT_S
    score = None
    while score is None:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            break
        try:
            digit = await asyncio.wait_for(leg.dtmf.get(), left)
        except asyncio.TimeoutError:
            break
        if digit in "12345":
            score = int(digit)
    on_event(SurveyEvent(score=score))
    if score is not None:
        on_score(score)
        leg.clear_playback()
        thanks = await speak(SURVEY_THANKS)
        leg.play(thanks.astype(np.int16).tobytes())
        await asyncio.sleep(len(thanks) / RATE + 0.2)  # let the caller hear it before the BYE
    return score
