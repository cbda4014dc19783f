"""The panel's policy pages (`web.routers.policy_pages`, `web.forms`): the form saves an audited
version, invalid values are shown at their field, a stale form is refused, rollback, what-if."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from routing.policy import PolicyError
from web.forms import form_to_policy_doc


def test_the_policy_form_saves_a_new_audited_version(app, store, signed_in, policy_form):
    ada = signed_in("ada")
    r = ada.post("/policy", data=policy_form(ada, **{"frustration.threshold": "0.45", "comment": "sooner"}), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/policy?saved=2"
    version, policy = store.current_policy()
    assert version == 2 and policy.frustration_threshold == 0.45 and policy.dtmf_zero is True
    assert policy.sensitive_intents == store.get_policy_version(1).sensitive_intents
    history = ada.get("/policy/history").text
    assert "ada" in history and "frustration.threshold" in history and "sooner" in history


@pytest.mark.parametrize("field, value, words", [
    ("frustration.threshold", "1.5", "from 0 to 1"),
    ("frustration.turns", "two", "whole number"),
    ("max_bot_seconds", "-3", "positive"),
])
def test_an_invalid_value_is_shown_at_its_field_and_nothing_changes(app, store, field, value, words, signed_in, policy_form):
    ada = signed_in("ada")
    r = ada.post("/policy", data=policy_form(ada, **{field: value}))
    assert r.status_code == 422 and words in r.text
    assert f'class="field invalid" id="field-{field.replace(".", "-")}"' in r.text
    assert value in r.text  # what the admin typed is kept for them to fix
    assert store.current_policy()[0] == 1


def test_a_stale_form_is_refused_when_someone_saved_first(app, store, signed_in, policy_form):
    ada = signed_in("ada")
    stale = policy_form(ada, **{"max_no_input": "5"})
    store.save_policy({**store.current_policy()[1].to_dict(), "max_no_match": 5}, "someone")
    r = ada.post("/policy", data=stale)
    assert r.status_code == 409 and "reload" in r.text
    assert store.current_policy()[1].max_no_input == 3


def test_rollback_from_the_history_page(app, store, signed_in, csrf_of):
    ada = signed_in("ada")
    store.save_policy({**store.current_policy()[1].to_dict(), "max_no_match": 9}, "someone")
    r = ada.post("/policy/rollback/1", data={"csrf": csrf_of(ada)}, follow_redirects=False)
    assert r.status_code == 303
    version, policy = store.current_policy()
    assert version == 3 and policy.max_no_match == store.get_policy_version(1).max_no_match
    assert store.policy_history(1)[0]["author"] == "ada"
    assert ada.post("/policy/rollback/1", data={"csrf": "wrong"}).status_code == 403


def test_form_parsing_names_the_field():
    with pytest.raises(PolicyError, match="^frustration.ceiling:"):
        form_to_policy_doc({"frustration.threshold": "0.5", "frustration.turns": "2", "frustration.ceiling": "x"})


def test_what_if_replays_the_period_under_the_proposed_values(app, store, signed_in, csrf_of, policy_form, transferred_call):
    now = datetime.now(timezone.utc)
    calm = transferred_call(store, now - timedelta(hours=2), [0.2, 0.3, 0.3])
    store.call_ended(calm, "bot_resolved")
    angry = transferred_call(store, now - timedelta(hours=1), [0.5, 0.7, 0.75])
    store.record_event(angry, {"event": "decision", "action": "transfer", "reason": "frustration"})
    store.call_ended(angry, "transferred")
    old = transferred_call(store, now - timedelta(days=30), [0.9, 0.9])
    store.call_ended(old, "bot_resolved")
    store.flush_sync()
    ada = signed_in("ada")
    csrf = csrf_of(ada)
    form = policy_form(ada, **{"frustration.threshold": "0.25", "frustration.turns": "2"})
    r = ada.post("/policy/whatif", data=form, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["calls"] == 2  # the 30-day-old call is outside the default week
    assert out["transferred_before"] == 1 and out["transferred_after"] == 2
    assert out["containment_before"] == 0.5 and out["containment_after"] == 0.0
    assert [c["call_id"] for c in out["changed"]] == [calm] and out["changed"][0]["after"] == "frustration"
    assert store.current_policy()[0] == 1  # a what-if saves nothing
    # and through the JSON API, for scripts
    api = ada.post("/api/policy/whatif", json={"policy": {"frustration": {"threshold": 0.95}}},
                   headers={"X-CSRF-Token": csrf}).json()
    assert api["transferred_after"] == 0 and [c["call_id"] for c in api["changed"]] == [angry]
    bad = ada.post("/policy/whatif", data={**form, "frustration.threshold": "7"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422 and "threshold" in bad.json()["detail"]
