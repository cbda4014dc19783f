"""The knowledge base over HTTP (`web.routers.knowledge`): list, search on MiniLM, edit as a new
version (409 from an old version, 422 naming the field), history and rollback, the admins' page,
and the desktop's search box behind the desktop's own sign-in."""

from __future__ import annotations

import re

import pytest

from nlu.backend import DEMO_KB, KbEntry
from tests.web.conftest import AUTH

NEW = "We are open every day from 7 am to 11 pm."


@pytest.fixture
def seeded(users):
    users.knowledge.seed([KbEntry(k, q, a) for k, q, a in DEMO_KB])
    return users


def test_list_search_edit_history_rollback(app, seeded, signed_in):
    ada = signed_in("ada")
    csrf = {"X-CSRF-Token": ada.get("/api/me").json()["csrf"]}
    assert len(ada.get("/api/knowledge").json()["articles"]) == len(DEMO_KB)
    found = ada.get("/api/knowledge/search", params={"q": "when do you open on saturday"}).json()["articles"]
    assert found[0]["key"] == "opening_hours" and found[0]["score"] > 0.3
    r = ada.put("/api/knowledge/opening_hours", json={"question": DEMO_KB[0][1], "answer": NEW, "version": 1,
                                                     "comment": "new hours"}, headers=csrf)
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["author"] == "ada"
    assert ada.get("/api/knowledge/opening_hours").json()["answer"] == NEW
    stale = ada.put("/api/knowledge/opening_hours", json={"question": "q", "answer": "a", "version": 1}, headers=csrf)
    assert stale.status_code == 409 and stale.json()["field"] == "version" and stale.json()["current_version"] == 2
    history = ada.get("/api/knowledge/opening_hours/history").json()["versions"]
    assert [(h["version"], h["action"]) for h in history] == [(2, "save"), (1, "seed")]
    assert history[0]["diff"]["answer"]["to"] == NEW
    back = ada.post("/api/knowledge/opening_hours/rollback/1", headers=csrf)
    assert back.status_code == 200 and back.json()["version"] == 3 and back.json()["answer"] == DEMO_KB[0][2]
    assert ada.post("/api/knowledge/opening_hours/rollback/99", headers=csrf).status_code == 404


def test_bad_input_is_refused_with_the_field(app, seeded, signed_in):
    ada = signed_in("ada")
    csrf = {"X-CSRF-Token": ada.get("/api/me").json()["csrf"]}
    r = ada.put("/api/knowledge/opening_hours", json={"question": "q", "answer": ""}, headers=csrf)
    assert r.status_code == 422
    r = ada.put("/api/knowledge/Bad-Key", json={"question": "q", "answer": "a"}, headers=csrf)
    assert r.status_code == 422
    assert ada.get("/api/knowledge/nothing_here").status_code == 404
    assert ada.put("/api/knowledge/opening_hours", json={"question": "q", "answer": "a"}).status_code == 403  # no CSRF


def test_only_admins_edit_and_agents_do_not_read_the_api(app, seeded, signed_in):
    sam = signed_in("sam")
    assert sam.get("/api/knowledge").status_code == 200
    csrf = {"X-CSRF-Token": sam.get("/api/me").json()["csrf"]}
    assert sam.put("/api/knowledge/opening_hours", json={"question": "q", "answer": "a"}, headers=csrf).status_code == 403
    assert signed_in("alice").get("/api/knowledge").status_code == 403


def test_the_admins_page_edits_an_article(app, seeded, signed_in):
    ada = signed_in("ada")
    page = ada.get("/knowledge")
    assert page.status_code == 200 and "opening_hours" in page.text and "version 1" in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
    r = ada.post("/knowledge/opening_hours", data={"csrf": csrf, "version": "1", "question": DEMO_KB[0][1],
                                                   "answer": NEW, "comment": "from the page"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/knowledge?saved=opening_hours"
    page = ada.get("/knowledge?saved=opening_hours").text
    assert NEW in page and "from the page" in page and "Saved: opening_hours is live." in page
    stale = ada.post("/knowledge/opening_hours", data={"csrf": csrf, "version": "1", "question": "q", "answer": "a"})
    assert stale.status_code == 409 and "reload and edit again" in stale.text
    assert ada.post("/knowledge/opening_hours", data={"csrf": "wrong", "question": "q", "answer": "a"}).status_code == 403
    assert seeded.knowledge.article("opening_hours").version == 2


def test_the_desktop_searches_as_its_agent(app, seeded, signed_in):
    alice = signed_in("alice")
    r = alice.get("/desktop/alice/knowledge", params={"q": "do you take paypal"})
    assert r.status_code == 200 and r.json()["articles"][0]["key"] == "payment_methods"
    assert signed_in("bob").get("/desktop/alice/knowledge", params={"q": "paypal"}).status_code == 403
    assert alice.get("/desktop/alice/knowledge", params={"q": "x" * 501}).status_code == 422


def test_the_bearer_token_edits_too(api, store):
    store.knowledge.seed([KbEntry(k, q, a) for k, q, a in DEMO_KB])
    r = api.put("/api/knowledge/gift_cards", json={"question": "Do you sell gift cards?", "answer": "Yes."}, headers=AUTH)
    assert r.status_code == 200 and r.json()["version"] == 1
