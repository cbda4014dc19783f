"""The worker's allocator settings: freed heap pages really go back to the system.

Run in a child process: capping arenas and trimming are process-wide, and this test process goes
on to run calls of its own."""

import ctypes.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not ctypes.util.find_library("c"), reason="needs a C library")

CHILD = r"""
import os
from ivr.memory import limit_arenas, trim

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

assert limit_arenas(0) is False  # 0: leave glibc's default
assert limit_arenas(2) is True
# 150 MB in 1 KB objects: below the mmap threshold, so they live on the heap, and freeing them
# leaves the pages resident until trimmed (the last allocation pins the heap top).
blocks = [bytearray(1024) for _ in range(150_000)]
keep = bytearray(16)
del blocks
before = rss_mb()
assert trim()
after = rss_mb()
print(f"{before:.0f} {after:.0f}")
"""


def test_arenas_are_capped_and_trim_returns_freed_heap_pages():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = map(float, proc.stdout.split())
    assert before - after > 100, (before, after)
