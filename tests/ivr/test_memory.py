"""The worker's allocator settings: freed heap pages really go back to the system."""

import ctypes.util

import pytest

from ivr.memory import limit_arenas, trim

pytestmark = pytest.mark.skipif(not ctypes.util.find_library("c"), reason="needs a C library")


def rss_mb() -> float:
    import os

    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_arenas_can_be_capped():
    assert limit_arenas(0) is False  # 0: leave glibc's default
    assert limit_arenas(4) is True


def test_trim_returns_freed_heap_pages():
    # 150 MB in 1 KB objects: below the mmap threshold, so they live on the heap, and freeing
    # them leaves the pages resident until trimmed.
    blocks = [bytearray(1024) for _ in range(150_000)]
    keep = bytearray(16)  # allocated last: pins the heap top, so free() alone cannot shrink it
    full = rss_mb()
    del blocks
    before_trim = rss_mb()
    assert trim()
    after = rss_mb()
    assert before_trim - after > 100, (full, before_trim, after)
    del keep
