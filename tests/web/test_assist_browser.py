"""Agent assist end to end, with real parts only: `ivr serve`, two pjsua2 softphones (the caller and
the agent's phone) and, in a real browser (Debian's Chromium driven by Playwright), the admins'
knowledge page and the agent's desktop.

An admin edits the opening-hours article on the panel; a caller asks "What are your opening hours?"
and the bot answers with the edited text (its audio rendered into the prompt cache); the caller
keys 0 for a person; the agent's desktop pops with what the bot looked up and, by itself, the
article for what the caller said; once the two are bridged the caller asks about returns and the
returns article appears; the agent's own search finds the payment article. Screenshots for the
README."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from voice.audio import write_wav

from tests.ivr.test_pjsua_transfer_e2e import Peer
from tests.support import call_events, free_port, running_service, transfer_in, wait_for_call
from tests.web.test_browser_e2e import CHROMIUM, CHROMIUM_ARGS, PASSWORD, SHOTS, add_user

pytestmark = pytest.mark.e2e

NEW_HOURS = "We are open every day from 7 am to 11 pm, holidays included."


def _said(text):
    return lambda evs: any(text in str(e.get("text") or "") for e in evs)


def _caller_audio(models) -> np.ndarray:
    """The greeting's length of silence, the question, then (on the bridge) returns, twice."""
    at = [(7.5, "What are your opening hours?"), (50.0, "Can I return the headphones and get a refund?"),
          (66.0, "Can I return the headphones and get a refund?")]
    pcm = np.zeros(88 * 8000, np.int16)
    for start, line in at:
        speech = models.synthesize_all(line, 8000)
        pcm[int(start * 8000): int(start * 8000) + len(speech)] = speech
    return pcm


async def test_the_desktop_suggests_articles_for_what_the_caller_said_and_an_edit_changes_the_bot(tmp_path, models):
    pytest.importorskip("pjsua2")  # installed by `make test` (the test extra); pinned test peer
    from playwright.async_api import async_playwright

    from calls.disk_cache import DiskCache
    from ivr.startup import resolve_dir
    from voice.prompt_audio_cache import prompt_key, voice_identity

    assert os.path.exists(CHROMIUM), "Debian's chromium is missing (make test installs it)"
    caller_wav, agent_wav = tmp_path / "caller.wav", tmp_path / "agent.wav"
    write_wav(caller_wav, _caller_audio(models), 8000)
    write_wav(agent_wav, np.zeros(80 * 8000, np.int16), 8000)  # the agent listens
    add_user(tmp_path, "ada", "admin")
    agent_port = free_port()
    agent = caller = None
    with running_service(tmp_path, "--agent", f"alice=sip:alice@127.0.0.1:{agent_port};name=Alice Smith",
                         "--ring-timeout", "15") as svc:
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    # The admin edits the article on the panel.
                    panel = await browser.new_page(viewport={"width": 1280, "height": 1300})
                    await panel.goto(f"http://127.0.0.1:{svc.http}/knowledge")
                    await panel.fill("#name", "ada")
                    await panel.fill("#password", PASSWORD)
                    await panel.click("button[type=submit]")
                    await panel.wait_for_url("**/knowledge")
                    await panel.fill("#a-opening_hours", NEW_HOURS)
                    await panel.fill("#article-opening_hours input[name=comment]", "open late from December")
                    await panel.click("#article-opening_hours button[type=submit]")
                    await panel.wait_for_selector("#saved:has-text('opening_hours is live')")
                    assert "version 2" in await panel.text_content("#article-opening_hours h2")
                    assert "open late from December" in await panel.text_content("#kb-audit")
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    await panel.screenshot(path=str(SHOTS / "knowledge-edit.png"), full_page=True)

                    desk = await browser.new_page(viewport={"width": 1280, "height": 1100})
                    await desk.goto(f"http://127.0.0.1:{svc.http}/desktop/alice?token={svc.tokens['alice']}")
                    await desk.wait_for_selector("#link:text-is('live')")
                    agent = Peer("agent", agent_port, agent_wav, tmp_path / "agent_rec")
                    caller = Peer("caller", free_port(), caller_wav, tmp_path / "caller_rec")
                    await asyncio.to_thread(agent.wait_for, "ready", 20)
                    await asyncio.to_thread(caller.wait_for, "ready", 20)
                    caller.send(f"call sip:support@127.0.0.1:{svc.sip}")
                    await asyncio.to_thread(caller.wait_for, "media", 20)
                    # The bot answers the question with the edited article.
                    call_id = await asyncio.to_thread(wait_for_call, svc, _said("7 am to 11 pm"), "the edited answer", 60)
                    caller.send("dtmf 0")  # a person, please
                    await asyncio.to_thread(agent.wait_for, "incoming", 60)
                    # The pop: what the bot looked up, and the article for what the caller said.
                    await desk.wait_for_selector("#kb-suggested li[data-key=opening_hours]", timeout=30000)
                    assert "opening hours" in (await desk.text_content("#kb-for")).lower()
                    assert NEW_HOURS in await desk.text_content("#kb-suggested")
                    assert await desk.text_content("#fact-verified") == "no"
                    assert await desk.text_content("#fact-order") == "none looked up"
                    # The agent's own search.
                    await desk.fill("#kb-q", "do you take paypal")
                    await desk.click("#kb-go")
                    await desk.wait_for_selector("#kb-results li[data-key=payment_methods]", timeout=15000)
                    # Bridged: the caller talks, and the article for it arrives by itself.
                    await asyncio.to_thread(wait_for_call, svc, transfer_in("bridged"), "a bridge", 60)
                    await desk.wait_for_selector("#kb-suggested li[data-key=returns_policy]", timeout=60000)
                    assert "refund" in (await desk.text_content("#kb-for")).lower()
                    await desk.screenshot(path=str(SHOTS / "desktop-assist.png"), full_page=True)
                finally:
                    await browser.close()
        finally:
            for peer in (caller, agent):
                if peer is not None:
                    peer.stop()
        events = call_events(svc, call_id)
        history = svc.api("/api/knowledge/opening_hours/history")["versions"]
    bot_lines = [str(e.get("text")) for e in events if "7 am to 11 pm" in str(e.get("text") or "")]
    assert bot_lines and "8 am to 8 pm" not in " ".join(bot_lines)
    assert [(h["version"], h["author"]) for h in history][:2] == [(2, "ada"), (1, "system")]
    # The edited answer's audio is in the start-up cache, so the next start plays it from there.
    cached = DiskCache(resolve_dir(None)).path("prompts", prompt_key(NEW_HOURS, voice_identity(models)))
    assert cached is not None and cached.exists()
