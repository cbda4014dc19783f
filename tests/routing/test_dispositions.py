"""An agent's disposition from the desktop: checked before the store sees it."""

from routing.dispositions import Disposition, parse_disposition

CALL = {"id": "c1", "agent": "alice"}


def test_a_valid_disposition():
    msg = {"call_id": "c1", "escalation_right": True, "caller_frustrated": "yes", "reason_tag": "billing", "note": ""}
    assert parse_disposition("alice", msg, CALL) == Disposition("c1", "alice", True, None, "billing", None)


def test_refusals_name_what_is_wrong():
    assert parse_disposition("alice", {"call_id": "c9"}, None) == "no call 'c9'"
    assert parse_disposition("bob", {"call_id": "c1"}, CALL) == "only the agent who took the call can file its disposition"
    assert parse_disposition("alice", {"call_id": "c1", "escalation_right": "yes"}, CALL) == (
        "escalation_right: must be true or false")
