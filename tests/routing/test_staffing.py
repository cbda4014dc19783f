"""Who takes which calls: the policy file's skills, and the queue's two rules for the caller."""

import asyncio

import pytest

from routing.agents import AgentDirectory, load_agents
from routing.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy
from routing.queue import CallQueue
from routing.staffing import StaffedPool, load_skills, skill_for


def test_the_shipped_policy_file_maps_intents_to_skills():
    skills = load_skills()
    assert skills == {"billing_dispute": "billing", "refund": "billing", "account_balance": "billing",
                      "cancel_service": "billing", "fraud_stolen_card": "fraud", "order_status": "orders",
                      "technical_problem": "tech"}
    assert skill_for(skills, "refund") == "billing"
    assert skill_for(skills, "greeting") is None and skill_for(skills, None) is None
    assert load_policy(DEFAULT_POLICY_PATH).version == 1  # the rules do not see the skills section


def test_a_policy_file_without_skills_keeps_the_shipped_map(tmp_path):
    own = tmp_path / "policy.yaml"
    own.write_text("version: 1\nmax_no_match: 2\n")
    assert load_skills(own) == load_skills()
    own.write_text("version: 1\nskills:\n  refund: money\n")
    assert load_skills(own) == {"refund": "money"}
    assert load_policy(own).max_no_match == 3
    own.write_text("skills: [billing]\n")
    with pytest.raises(PolicyError, match="skills"):
        load_skills(own)


async def test_a_skill_nobody_has_falls_back_to_anyone_and_nobody_signed_in_means_no_wait():
    directory = AgentDirectory(load_agents(["alice=sip:alice@127.0.0.1;skills=orders"]))
    pool = StaffedPool(CallQueue(directory), "call-1", wrap_up=0.0)
    agent = await asyncio.wait_for(pool.acquire("fraud", timeout=1), 2)
    assert agent is not None and agent.id == "alice"
    empty = StaffedPool(CallQueue(AgentDirectory([])), "call-2", wrap_up=0.0)
    assert await asyncio.wait_for(empty.acquire(None, timeout=5), 1) is None
