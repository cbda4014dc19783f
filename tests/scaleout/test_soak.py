"""The soak, shortened to 20 s: sipp at a steady rate through Kamailio into the live workers of the test
cluster (`make soak` runs the same code for 10 minutes on a cluster of its own), then every call
accounted for in the store and nothing left over in any worker."""

from __future__ import annotations

import os

import pytest

from cluster.soak import run_soak

pytestmark = pytest.mark.scaleout


def test_short_soak_leaves_nothing_behind(cluster):
    res = run_soak(cluster, minutes=1 / 3, rate=0.5, drain_timeout=60, media_port=17000)
    print(f"short soak: {res.sipp_successful}/{res.sipp_calls} calls ok, stored {res.stored_calls}, "
          f"drain {res.drain_s} s, fds {res.fds}, tasks {res.tasks}, load {os.getloadavg()[0]:.1f}")
    assert res.sipp_calls == 10 and res.sipp_successful == 10
    assert res.stored_calls == res.stored_ended == 10
    assert res.problems == []
