"""The panel and the agent desktop in a real browser (Debian's Chromium driven by Playwright)
against a real `ivr serve`: an admin signs in and changes a threshold, and the next simulated call
is decided by the new value; an agent's page pops while their SIP phone rings, with the per-turn
frustration strip, and files a disposition after the call; the pages are saved as screenshots for
the README."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from telephony import EndpointConfig, SipEndpoint, TimingConfig

from tests.support import IVR_CMD, free_port, running_service

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# From the field notes: without the background-networking flags Chromium floods a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "a long test password"


def add_user(var: Path, name: str, role: str) -> None:
    subprocess.run([*IVR_CMD, "users", "add", name, "--role", role, "--password-stdin", "--db", f"sqlite:///{var}/ivr.db"],
                   input=PASSWORD + "\n", text=True, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    add_user(var, "ada", "admin")
    add_user(var, "alice", "agent")
    agent_port = free_port()
    args = ["--agent", f"alice=sip:alice@127.0.0.1:{agent_port};skills=orders,billing", "--ring-timeout", "10"]
    with running_service(var, *args) as svc:
        svc.var, svc.agent_port = var, agent_port
        yield svc


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is missing (make test installs it)"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def sign_in(browser, service, name: str, start: str):
    page = await (await browser.new_context(viewport={"width": 1280, "height": 860})).new_page()
    await page.goto(f"http://127.0.0.1:{service.http}{start}")
    assert "/login" in page.url  # anonymous: sent to sign in first
    await page.fill("#name", name)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{start}")
    return page


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_admin_changes_a_threshold_and_the_next_call_is_decided_by_it(browser, service, make_caller):
    page = await sign_in(browser, service, "ada", "/policy")
    assert await page.text_content("h1 .badge") == "version 1"
    await page.fill("#frustration\\.threshold", "0.01")
    await page.fill("#frustration\\.turns", "1")
    await page.fill("#comment", "transfer at the first sign of frustration")
    await page.click("#save")
    await page.wait_for_selector("#saved")
    assert "version 2" in await page.text_content("#saved")
    await shot(page, "policy")

    caller = make_caller([(0.5, "Hello, I would like to know where my order is.")], tail=2.5)
    url = f"sqlite:///{service.var}/ivr.db"
    out = await asyncio.to_thread(subprocess.run, [*IVR_CMD, "simulate", str(caller.path), "--json", "--fast", "--store", url],
                                  capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    decisions = [e for e in map(json.loads, out.stdout.splitlines()) if e["event"] == "decision"]
    assert decisions, out.stdout
    assert decisions[0]["rule"] == "frustration >= 0.01 for 1 turns" and decisions[0]["policy_version"] == 2

    # The call is in the panel, with the decision and the version that made it.
    await page.goto(f"http://127.0.0.1:{service.http}/live")
    await page.click("#recent tbody tr:first-child a")
    await page.wait_for_selector("#decision")
    decision = await page.text_content("#decision")
    assert "frustration" in decision and "0.01" in decision and "v2" in decision
    # The per-turn strip: each caller turn's score and the part (voice, words, dialogue) that drove it,
    # at the top and again in the transcript table.
    await expect_strip(page, "#strip li .turnbar", 1)
    await expect_strip(page, "#transcript tr.caller .turnbar", 1)
    await shot(page, "call")

    # What-if: the proposed values replayed over stored calls before saving.
    await page.goto(f"http://127.0.0.1:{service.http}/policy")
    await page.fill("#frustration\\.threshold", "0.99")
    await page.fill("#frustration\\.ceiling", "1")
    await page.click("#whatif")
    await page.wait_for_selector("#whatif-changed")
    table = await page.text_content("#whatif-table")
    assert "Calls replayed" in table and "proposed 0" in table  # nothing would have been transferred
    await shot(page, "policy-whatif")

    # The change is audited and one click rolls it back.
    await page.goto(f"http://127.0.0.1:{service.http}/policy/history")
    assert "ada" in await page.text_content("#history") and "frustration.threshold" in await page.text_content("#history")
    await shot(page, "history")
    await page.click("tr[data-version='1'] button")
    await page.wait_for_selector("text=version 3 is now current")
    assert service.api("/api/policy")["frustration"]["threshold"] == 0.6

    await page.goto(f"http://127.0.0.1:{service.http}/dashboard")
    assert "escalations" in (await page.inner_html("#escalations")).lower()
    assert "frustration" in await page.text_content("#escalations")
    await shot(page, "dashboard")
    await page.goto(f"http://127.0.0.1:{service.http}/live")
    await shot(page, "live")

    # An agent may not open the policy page.
    agent = await sign_in(browser, service, "alice", "/desktop/alice")
    r = await agent.goto(f"http://127.0.0.1:{service.http}/policy")
    assert r.status == 403


async def expect_strip(page, selector: str, turns: int) -> None:
    """At least `turns` per-turn bars, each coloured by and labelled with the part that drove it."""
    bars = await page.query_selector_all(selector)
    assert len(bars) >= turns, selector
    for bar in bars:
        cls = await bar.get_attribute("class")
        label = await (await bar.query_selector("small")).text_content()
        assert any(f"drove-{name}" in cls for name in ("voice", "words", "dialogue", "none")), cls
        assert label in ("voice", "words", "dialogue", "—") and (label == "—") == ("drove-none" in cls)
        assert await bar.query_selector("svg rect") is not None
        assert (await bar.get_attribute("title")).startswith("turn ")


async def test_agent_page_pops_while_the_phone_rings_then_takes_a_disposition(browser, service, models):
    page = await sign_in(browser, service, "alice", "/desktop/alice")
    await page.wait_for_selector("#link:text-is('live')")  # the desktop's socket is up (no eval: the CSP forbids it)
    loop = asyncio.get_running_loop()
    answered_at: list[float] = []
    agent_done = asyncio.Event()

    async def agent_phone(call):
        answered_at.append(loop.time())
        await agent_done.wait()
        await call.hangup()

    async def bridged(timeout: float = 40.0) -> str:
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            calls = service.api("/api/calls?limit=1")["calls"]
            if calls:
                events = service.api(f"/api/calls/{calls[0]['id']}/events")["events"]
                if any(e.get("event") == "transfer" and e.get("state") == "bridged" for e in events):
                    return calls[0]["id"]
            await asyncio.sleep(0.2)
        raise AssertionError("the transfer never reached the bridge")

    async def turned(timeout: float = 40.0) -> None:
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            calls = service.api("/api/calls?limit=1")["calls"]
            if calls and any(t["frustration"]["score"] is not None
                             for t in service.api(f"/api/calls/{calls[0]['id']}")["turns"]):
                return
            await asyncio.sleep(0.2)
        raise AssertionError("the caller's turn never reached the store")

    agent = SipEndpoint(EndpointConfig("127.0.0.1", service.agent_port, timing=TimingConfig(answer_delay=2.0)), agent_phone)
    caller_ep = SipEndpoint(EndpointConfig("127.0.0.1", 0), lambda c: asyncio.sleep(0))
    await agent.start()
    await caller_ep.start()
    try:
        call = await caller_ep.invite(f"sip:support@127.0.0.1:{service.sip}", ring_timeout=10)
        await asyncio.sleep(7.0)  # the greeting
        call.play(models.synthesize_all("What are your opening hours?", 8000).tobytes())  # no number asked for: 0 is not a keyed digit
        await turned()  # one caller turn scored: the pop has a trajectory to show
        popped = asyncio.ensure_future(page.wait_for_selector("#card", state="visible", timeout=30000))
        call.send_dtmf("0")  # the caller presses 0 for a person
        await popped
        popped_at = loop.time()
        assert await page.text_content("#reason") == "dtmf"
        await expect_strip(page, "#strip li", 1)
        await shot(page, "desktop-pop")
        call_id = await bridged()
        assert answered_at and popped_at < answered_at[0]  # the pop came while the phone rang
        agent_done.set()  # the agent finishes the call
        await asyncio.wait_for(call.ended.wait(), 20)
    finally:
        await caller_ep.stop()
        await agent.stop()

    await page.wait_for_selector("#dispo", state="visible", timeout=15000)
    assert await page.text_content("#dcall") == call_id
    await page.check("input[name=right][value=yes]")
    await page.check("input[name=frustrated][value=no]")
    await page.select_option("select[name=reason]", "asked_for_person")
    await page.fill("textarea[name=note]", "wanted a person straight away")
    await shot(page, "desktop-disposition")
    await page.click("#dform button[type=submit]")
    await page.wait_for_selector("#saved:has-text('Saved')")
    stored = service.api(f"/api/calls/{call_id}")["dispositions"]
    assert [(d["agent"], d["reason_tag"], d["caller_frustrated"]) for d in stored] == [("alice", "asked_for_person", False)]


@pytest.mark.parametrize("path, shows", [
    ("/docs", ".swagger-ui .opblock-summary-path[data-path='/api/calls']"),  # Swagger UI, an operation listed
    ("/redoc", "[data-section-id^='operation/']"),  # ReDoc, operations laid out
])
async def test_api_docs_render_with_the_network_closed(browser, service, path, shows):
    """The API page works on a closed network: every request the page makes is to this host
    (any other is refused here, and counted), the spec loads, and the page renders it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    requested: list[str] = []
    off_host: list[str] = []

    async def only_this_host(route):
        url = route.request.url
        requested.append(url)
        if urlsplit(url.removeprefix("blob:")).hostname == "127.0.0.1":  # blob: ReDoc's worker, made here
            await route.continue_()
        else:
            off_host.append(url)
            await route.abort()

    await context.route("**/*", only_this_host)
    page = await context.new_page()
    problems: list[str] = []
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    response = await page.goto(f"http://127.0.0.1:{service.http}{path}")
    assert response.status == 200
    await page.wait_for_selector(shows, timeout=30000)
    assert off_host == [] and problems == []
    assert any(urlsplit(u).path == "/openapi.json" for u in requested)
    assert "/api/calls" in await page.content()
