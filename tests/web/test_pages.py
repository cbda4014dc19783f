"""The panel's call page (`web.routers.pages`, `web.charts`): each turn's score as a bar coloured
by what drove it, in the strip and in the transcript, with nothing inline the CSP would refuse."""

from __future__ import annotations

import re
from datetime import datetime, timezone


def test_the_call_page_shows_each_turns_score_and_what_drove_it(app, store, signed_in):
    cid = store.call_started(None, "+15550001111", datetime.now(timezone.utc))
    turns = [("where is my order", {"score": 0.12, "smoothed": 0.12,
                                    "parts": {"text": 0.3, "prosody": 0.1, "dialogue": 0.0, "bias": -3.0}}),
             ("I ALREADY told you", {"score": 0.81, "smoothed": 0.47,
                                     "parts": {"text": 0.9, "prosody": 2.2, "dialogue": 0.4, "bias": -3.0}}),
             ("[no input]", {"score": 0.35, "smoothed": 0.41,
                             "parts": {"text": 0.0, "prosody": -0.2, "dialogue": 1.3, "bias": -3.0}}),
             ("stored before the parts", {"score": 0.2, "smoothed": 0.3})]
    for i, (words, fr) in enumerate(turns):
        store.record_event(cid, {"event": "turn", "index": i, "start": i * 5.0, "text": words, "frustration": fr})
    store.flush_sync()
    page = signed_in("sam").get(f"/calls/{cid}")
    assert page.status_code == 200 and "style-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    strip = html.split('id="strip"')[1].split("</td>")[0]
    assert re.findall(r'class="turnbar drove-(\w+)"', strip) == ["words", "voice", "dialogue", "none"]
    assert "<b>0.81</b> <small>voice</small>" in strip and "<b>0.20</b> <small>—</small>" in strip
    assert 'title="turn 2: 0.81 (smoothed 0.47); voice +2.20, words +0.90, dialogue +0.40"' in strip
    assert 'height="19.4"' in strip  # the bar is as tall as the score (0.81 of 24)
    table = html.split('id="transcript"')[1].split("</table>")[0]
    assert len(re.findall(r'class="turnbar drove-', table)) == 4  # the same per turn in the transcript
    assert "smoothed 0.47" in table
    assert " style=" not in html and "<script>" not in html  # nothing inline the CSP would refuse
