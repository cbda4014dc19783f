"""The policy document's pydantic model (`web.schemas.PolicyDocument`) and the domain's own check
(`routing.policy.Policy`) accept the same documents: one set of limits, defined in routing.policy."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.policy import DOC_PATHS, MIN_COUNT, RULES, SCORE_MAX, SCORE_MIN, Policy, PolicyError
from web.policy_edits import validated
from web.problems import ProblemError
from web.schemas import ADDED_LATER, PolicyDocument

BASE = Policy().to_dict()
PATHS = [DOC_PATHS.get(name, name) for name in RULES if name != "version"]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.sampled_from([0, 1, 2**63, -1]),
    st.floats(allow_nan=False, allow_infinity=True), st.sampled_from([0.0, 1.0, 1.0000001, -0.0, 0.5, 1e-9]),
    st.text(max_size=4), st.lists(st.text(max_size=3), max_size=3), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def with_value(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    head, _, tail = path.partition(".")
    if tail:
        doc[head][tail] = value
    else:
        doc[head] = value
    return doc


def policy_accepts(doc: dict) -> bool:
    try:
        Policy.from_dict({k: v for k, v in doc.items() if k != "version"})
        return True
    except PolicyError:
        return False


def model_accepts(doc: dict) -> bool:
    try:
        validated(doc)
        return True
    except ProblemError:
        return False


def test_every_policy_field_has_a_rule():
    assert set(RULES) == {f.name for f in dataclasses.fields(Policy)}


def test_the_models_bounds_are_the_policys():
    schema = PolicyDocument.model_json_schema()
    fr = schema["$defs"]["FrustrationRules"]["properties"]
    assert (fr["threshold"]["minimum"], fr["threshold"]["maximum"]) == (SCORE_MIN, SCORE_MAX)
    assert fr["turns"]["minimum"] == MIN_COUNT and schema["properties"]["max_no_match"]["minimum"] == MIN_COUNT
    assert schema["properties"]["max_bot_seconds"]["exclusiveMinimum"] == 0
    required = set(schema["required"]) | {f"frustration.{k}" for k in schema["$defs"]["FrustrationRules"]["required"]}
    assert required == (set(PATHS) | {"frustration"}) - ADDED_LATER


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(path=st.sampled_from(PATHS), value=VALUES)
def test_the_model_and_the_policy_accept_the_same_values(path, value):
    doc = with_value(BASE, path, value)
    assert model_accepts(doc) == policy_accepts(doc), (path, value)


@pytest.mark.parametrize("path", PATHS)
def test_null_is_refused_for_every_field_even_one_that_may_be_left_out(path):
    assert not model_accepts(with_value(BASE, path, None)) and not policy_accepts(with_value(BASE, path, None))


def test_the_default_policy_is_a_valid_document():
    assert validated(BASE).rules() == {k: v for k, v in BASE.items() if k != "version"}
