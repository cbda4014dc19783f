"""The callbacks page in a real browser (Debian's Chromium driven by Playwright) against a real
`ivr serve`: a supervisor sees the queue by state, cancels a pending callback and has a failed
one placed again; the page is saved as a screenshot for the README. No agent is configured, so
the service's scheduler leaves the queue as the test made it."""

from __future__ import annotations

import os

import pytest

from routing.callbacks import Step
from store import Store

from tests.support import running_service
from tests.web.test_browser_e2e import CHROMIUM, CHROMIUM_ARGS, PASSWORD, SHOTS, add_user

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    add_user(var, "sam", "supervisor")
    with running_service(var) as svc:
        store = Store(f"sqlite:///{var}/ivr.db")
        store.worker_id = "elsewhere"
        call_id = store.call_started("sip-1", "+15550101")
        ids = {}
        for name, number, paragraph in (("pending", "+15550101", "Refund for order 4411 not received."),
                                        ("failed", "+15550102", "Wants to change the delivery address."),
                                        ("done", "+15550103", "Card declined twice at checkout.")):
            ids[name] = store.add_callback(call_id, number, skill="billing", summary={"paragraph": paragraph})
        store.flush_sync()
        for name, step in (("failed", Step("failed", None, 3, "no_answer")), ("done", Step("done", None, 1, "answered"))):
            assert store.callbacks.claim(ids[name])
            store.callbacks.finish(ids[name], step, "alice")
        svc.ids, svc.store = ids, store
        yield svc
        store.close()


async def test_a_supervisor_cancels_one_and_calls_a_failed_one_again(service):
    from playwright.async_api import async_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is missing (make test installs it)"
    base, ids = f"http://127.0.0.1:{service.http}", service.ids
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"{base}/callbacks")
            await page.fill("#name", "sam")
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url("**/callbacks")
            for status in ("pending", "failed", "done"):
                assert await page.locator(f"#callbacks-{status} tr[data-callback='{ids[status]}']").count() == 1
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "callbacks.png"), full_page=True)
            await page.click(f"tr[data-callback='{ids['pending']}'] button.danger")  # Cancel
            await page.wait_for_selector("p.ok")
            assert await page.locator(f"#callbacks-cancelled tr[data-callback='{ids['pending']}']").count() == 1
            await page.click(f"tr[data-callback='{ids['failed']}'] button:has-text('Call now')")
            await page.wait_for_selector("text=Callback due now")
            assert await page.locator(f"#callbacks-pending tr[data-callback='{ids['failed']}']").count() == 1
        finally:
            await browser.close()
    assert service.store.callbacks.get(ids["pending"])["status"] == "cancelled"
    row = service.store.callbacks.get(ids["failed"])
    assert (row["status"], row["attempts"]) == ("pending", 0)
