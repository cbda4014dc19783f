"""Keeping a long-running worker's resident memory honest (glibc; a no-op elsewhere).

By default glibc gives each thread that allocates an arena of its own, up to eight per core.
The model threads' large, short-lived buffers (Whisper features, Piper audio) then fragment
many arenas, and resident memory creeps up for hours with nothing leaked. Two arenas, and
freed pages handed back to the system every half minute, keep RSS close to what the process
really uses, so that a real leak is what shows in `/healthz` and the soak.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import os

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
DEFAULT_ARENAS = 2


@functools.lru_cache(maxsize=1)
def _glibc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def limit_arenas(n: int | None = None) -> bool:
    """Cap malloc arenas (before the model threads start). `IVR_MALLOC_ARENAS` overrides; 0 leaves glibc's default."""
    if n is None:
        n = int(os.environ.get("IVR_MALLOC_ARENAS", DEFAULT_ARENAS))
    libc = _glibc()
    if libc is None or n <= 0:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, n))


def trim() -> bool:
    """Hand freed heap pages back to the system; True when some were."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


async def trim_every(seconds: float = 30.0) -> None:
    """Run `trim` off the event loop every `seconds` until cancelled."""
    loop = asyncio.get_running_loop()
    if _glibc() is None:
        return
    while True:
        await asyncio.sleep(seconds)
        await loop.run_in_executor(None, trim)
