"""The service's numpy runs OpenBLAS on one thread: its idle worker thread spun after every
call, 21 % of a core at 20 calls (`ivr bench capacity`, README)."""

import json
import os
import subprocess
import sys

import pytest


def _blas_threads(code: str) -> list[int]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code + "; import numpy, json; from threadpoolctl import threadpool_info; "
                          "print(json.dumps([i['num_threads'] for i in threadpool_info() if i['internal_api'] == 'openblas']))"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_service_first_gives_numpy_one_blas_thread():
    assert _blas_threads("import ivr.cli") == [1]


def test_without_it_openblas_would_use_a_thread_per_core():
    """The test above can fail: on a box with more than one core, numpy alone takes them all."""
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: OpenBLAS would start no worker thread either way")
    assert _blas_threads("pass")[0] > 1
