"""The callbacks page and /api/callbacks: listed by state, cancel and call now for supervisors
(CSRF checked), read-only for nobody else, bad input refused with a clear error."""

import re

from routing.callbacks import Step
from tests.web.conftest import AUTH


def _queue(store):
    store.worker_id = "w1"
    call_id = store.call_started("sip-1", "+15550001")
    ids = [store.add_callback(call_id, n, skill="billing", summary={"paragraph": f"About order {i}."})
           for i, n in enumerate(("+15550001", "+15550002", "+15550003"))]
    store.flush_sync()
    assert store.callbacks.claim(ids[1]) and store.callbacks.claim(ids[2])
    store.callbacks.finish(ids[2], Step("failed", None, 3, "no_answer"), "alice")
    return ids


def test_the_api_lists_by_state_and_acts(api, store):
    pending, in_progress, failed = _queue(store)
    doc = api.get("/api/callbacks", headers=AUTH).json()
    assert doc["counts"] == {"pending": 1, "in_progress": 1, "failed": 1}
    assert {c["id"]: c["status"] for c in doc["callbacks"]} == {pending: "pending", in_progress: "in_progress",
                                                               failed: "failed"}
    assert [c["id"] for c in api.get("/api/callbacks?status=failed", headers=AUTH).json()["callbacks"]] == [failed]
    assert api.get("/api/callbacks?status=lost", headers=AUTH).status_code == 422
    assert api.post(f"/api/callbacks/{failed}/call-now", headers=AUTH).json()["status"] == "pending"
    assert api.post(f"/api/callbacks/{in_progress}/cancel", headers=AUTH).json()["status"] == "cancelled"
    r = api.post(f"/api/callbacks/{in_progress}/call-now", headers=AUTH)
    assert r.status_code == 409 and "cancelled" in r.text
    assert api.post("/api/callbacks/nope/cancel", headers=AUTH).status_code == 404
    assert api.post(f"/api/callbacks/{pending}/explode", headers=AUTH).status_code == 404
    assert api.get("/api/callbacks").status_code == 401


def test_the_page_shows_each_state_and_a_supervisor_cancels(users, signed_in):
    pending, in_progress, failed = _queue(users)
    sam = signed_in("sam")
    page = sam.get("/callbacks")
    assert page.status_code == 200 and 'href="/callbacks"' in page.text
    for status, cid in (("pending", pending), ("in_progress", in_progress), ("failed", failed)):
        section = page.text.split(f'id="callbacks-{status}"')[1].split("</section>")[0]
        assert f'data-callback="{cid}"' in section
    assert "About order 0." in page.text
    # without the form's CSRF token the cancel is refused
    assert sam.post(f"/callbacks/{pending}/cancel", data={}, follow_redirects=False).status_code == 403
    assert users.callbacks.get(pending)["status"] == "pending"
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = sam.post(f"/callbacks/{pending}/cancel", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and users.callbacks.get(pending)["status"] == "cancelled"
    r = sam.post(f"/callbacks/{failed}/call-now", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and users.callbacks.get(failed)["status"] == "pending"
    assert "Callback due now" in sam.get(r.headers["location"]).text


def test_agents_do_not_see_the_queue(users, signed_in):
    _queue(users)
    alice = signed_in("alice")
    assert alice.get("/callbacks").status_code == 403
    assert alice.get("/api/callbacks").status_code == 403
