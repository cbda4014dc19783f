"""The policy API (`web.routers.policy`): read, a whole new document, 422 naming the field (the
`Problem` shape), 409 on a stale version, history and rollback, and subscribers told."""

from __future__ import annotations

import pytest


def test_get_and_put_policy(api, store, bearer):
    doc = api.get("/api/policy", headers=bearer).json()
    assert doc == store.current_policy()[1].to_dict() and doc["version"] == 1
    doc["frustration"]["threshold"] = 0.72
    doc["always_human_tiers"] = ["platinum"]
    r = api.put("/api/policy?comment=platinum%20always%20human", json=doc, headers=bearer)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["version"] == 2 and new["frustration"]["threshold"] == 0.72 and new["always_human_tiers"] == ["platinum"]
    assert api.get("/api/policy", headers=bearer).json() == new
    assert store.current_policy()[1].always_human_tiers == ("platinum",)

    history = api.get("/api/policy/history", headers=bearer).json()["versions"]
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["author"] == "admin-token" and history[0]["comment"] == "platinum always human"
    assert history[0]["diff"] == {"always_human_tiers": {"from": [], "to": ["platinum"]},
                                  "frustration.threshold": {"from": 0.6, "to": 0.72}}

    r = api.post("/api/policy/rollback/1", headers=bearer)
    assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["always_human_tiers"] == []
    assert api.post("/api/policy/rollback/99", headers=bearer).status_code == 404


@pytest.mark.parametrize("change, field", [
    ({"frustration": {"threshold": 1.5, "turns": 2, "ceiling": 0.85}}, "frustration.threshold"),
    ({"frustration": {"threshold": 0.6, "turns": 0, "ceiling": 0.85}}, "frustration.turns"),
    ({"max_no_match": "three"}, "max_no_match"),
    ({"dtmf_zero": "yes"}, "dtmf_zero"),
    ({"sensitive_intents": "complaint"}, "sensitive_intents"),
    ({"max_bot_seconds": -1}, "max_bot_seconds"),
    ({"colour": "blue"}, "colour"),
    ({"version": "latest"}, "version"),
])
def test_invalid_policy_is_422_naming_the_field(api, store, change, field, bearer):
    doc = {**api.get("/api/policy", headers=bearer).json(), **change}
    r = api.put("/api/policy", json=doc, headers=bearer)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field and body["detail"].split(":")[0] in (field, field.replace(".", "_"))
    assert store.current_policy()[0] == 1 and len(store.policy_history()) == 1  # nothing changed


def test_put_needs_the_whole_document(api, store, bearer):
    r = api.put("/api/policy", json={"max_no_match": 4}, headers=bearer)
    assert r.status_code == 422 and r.json()["field"] == "always_human_tiers"
    r = api.put("/api/policy", json=["not", "a", "policy"], headers=bearer)
    assert r.status_code == 422 and r.json()["field"] == "policy"
    assert store.current_policy()[0] == 1


def test_a_whole_document_from_before_a_field_was_added_keeps_its_current_value(api, store, bearer):
    doc = api.get("/api/policy", headers=bearer).json()
    doc["frustration"]["corroborate"] = False
    assert api.put("/api/policy", json=doc, headers=bearer).status_code == 200
    old_client = api.get("/api/policy", headers=bearer).json()
    del old_client["frustration"]["corroborate"]
    r = api.put("/api/policy", json={**old_client, "max_no_match": 4}, headers=bearer)
    assert r.status_code == 200, r.text
    assert r.json()["frustration"]["corroborate"] is False and r.json()["max_no_match"] == 4
    del old_client["max_no_input"]  # a field that was always there is still required
    assert api.put("/api/policy", json=old_client, headers=bearer).json()["field"] == "max_no_input"


def test_put_from_a_stale_version_is_409(api, store, bearer):
    doc = api.get("/api/policy", headers=bearer).json()
    assert api.put("/api/policy", json={**doc, "max_no_match": 4}, headers=bearer).status_code == 200
    r = api.put("/api/policy", json={**doc, "max_no_match": 5}, headers=bearer)  # still says version 1
    assert r.status_code == 409 and r.json()["current_version"] == 2
    assert store.current_policy()[1].max_no_match == 4


def test_put_reaches_policy_subscribers(api, store, bearer):
    seen = []
    store.on_policy_change(lambda v, p: seen.append((v, p.max_no_input)))
    doc = api.get("/api/policy", headers=bearer).json()
    api.put("/api/policy", json={**doc, "max_no_input": 5}, headers=bearer)
    assert seen == [(2, 5)]


def test_a_refusal_has_one_shape_with_every_field_location(api, store, bearer):
    doc = api.get("/api/policy", headers=bearer).json()
    doc["frustration"]["threshold"] = 7
    doc["max_no_input"] = 0
    del doc["dtmf_zero"]
    r = api.put("/api/policy", json=doc, headers=bearer)
    assert r.status_code == 422
    body = r.json()
    # detail and field: the first problem, in the order the policy checks its fields; errors: all
    assert body["detail"] == "frustration.threshold: must be a number from 0 to 1 (got 7)"
    assert body["field"] == "frustration.threshold"
    assert [e["loc"] for e in body["errors"]] == [["body", "frustration", "threshold"], ["body", "max_no_input"],
                                                 ["body", "dtmf_zero"]]
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])
    # the same shape where the request itself is malformed, and for a query parameter
    r = api.put("/api/policy", content=b"{not json", headers={**bearer, "content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "policy" and isinstance(r.json()["detail"], str)
    r = api.get("/api/calls?limit=0", headers=bearer)
    assert r.status_code == 422 and r.json()["field"] == "limit" and r.json()["detail"].startswith("limit: ")
    assert store.current_policy()[0] == 1


def test_a_string_is_not_a_number_nor_a_number_a_flag(api, store, bearer):
    """Strict like Policy: no "3" for 3, no 1 for true, no 2.0 for 2."""
    doc = api.get("/api/policy", headers=bearer).json()
    for change, field in (({"max_no_match": "3"}, "max_no_match"), ({"explicit_request": 1}, "explicit_request"),
                          ({"max_no_input": 2.0}, "max_no_input")):
        r = api.put("/api/policy", json={**doc, **change}, headers=bearer)
        assert r.status_code == 422 and r.json()["field"] == field, change
    assert store.current_policy()[0] == 1


def test_a_valid_document_round_trips(api, store, bearer):
    doc = api.get("/api/policy", headers=bearer).json()
    changed = {**doc, "max_bot_seconds": 240.0, "sensitive_intents": ["complaint"],
               "frustration": {**doc["frustration"], "ceiling": 0.9, "corroborate": False}}
    r = api.put("/api/policy", json=changed, headers=bearer)
    assert r.status_code == 200, r.text
    saved = api.get("/api/policy", headers=bearer).json()
    assert saved == r.json() == {**changed, "version": 2}
    again = api.put("/api/policy", json=saved, headers=bearer)  # what GET gives, PUT takes
    assert again.status_code == 200 and {**again.json(), "version": 2} == saved


def test_the_put_has_a_schema_in_openapi(api):
    spec = api.get("/openapi.json").json()
    put = spec["paths"]["/api/policy"]["put"]
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PolicyDocument"}
    schemas = spec["components"]["schemas"]
    assert {"frustration", "max_no_match", "always_human_tiers"} <= set(schemas["PolicyDocument"]["required"])
    assert schemas["FrustrationRules"]["properties"]["threshold"]["maximum"] == 1
    for status in ("422", "409"):
        ref = put["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ProblemBody"
    assert spec["paths"]["/api/calls"]["get"]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] \
        == "#/components/schemas/ProblemBody"
