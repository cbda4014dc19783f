"""The service's end-of-turn settings: the waits for a number and a hesitation are configurable."""

import pytest

from ivr.serve import turn_config
from voice.turns import TurnConfig


def test_defaults_are_the_turn_configs():
    assert turn_config({}) == TurnConfig()


def test_number_and_hesitation_waits_come_from_settings():
    c = turn_config({"number_wait_ms": 3000, "hesitation_ms": 1200, "pause_ms": 160})
    assert (c.end.pending_ms, c.end.unfinished_ms, c.pause_ms) == (3000, 1200, 160)
    assert c.end.complete_ms == TurnConfig().end.complete_ms  # the rest untouched


@pytest.mark.parametrize("bad", [{"number_wait_ms": 0}, {"hesitation_ms": -5}, {"pause_ms": 150}])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError):
        turn_config(bad)
