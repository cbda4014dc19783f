"""The start-up cache on disk: what an `ivr serve` start would otherwise rebuild every time.

It lives in calls/ because both nlu (fitted classifiers) and voice (prompts' audio) keep entries
in it and neither may import the other; where the folder is, is the service's (ivr.startup).

Each entry is one ``.npz`` file (arrays only, read with ``allow_pickle=False``: nothing in the
folder can run code) named by a hash of everything that produced it, so an entry is never stale:
a change to any input gives a new key, and only that entry is built again. Writes go to a
temporary file in the entry's own folder and are renamed into place (``os.replace``), so
several workers sharing the folder see either no entry or a whole one, never half of one; two
workers building the same entry at once both write the same content and the last rename wins.
A cache that cannot be written (read-only, disk full) only costs the next start its time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

log = logging.getLogger(__name__)

FORMAT = 1  # bumped when the file layout changes; part of every key

Arrays = dict[str, np.ndarray]


def entry_key(kind: str, parts: Mapping[str, object]) -> str:
    """A stable hash of what produced an entry (JSON of the parts, keys sorted)."""
    doc = json.dumps({"format": FORMAT, "kind": kind, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()[:40]


def text_digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


_digests: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content, hashed once per process per (path, size, mtime)."""
    p = Path(path).resolve()
    st = p.stat()
    stamp = (str(p), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        hit = _digests.get(stamp)
    if hit is None:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        hit = h.hexdigest()
        with _digest_lock:
            _digests[stamp] = hit
    return hit


def source_digest(*objects) -> str:
    """Hash of the source of the functions that produce an entry: editing them rebuilds it."""
    h = hashlib.sha256()
    for obj in objects:
        h.update(inspect.getsource(obj).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class CacheEvent:
    """One entry looked up: found on disk, or built (and how long building took)."""

    kind: str
    name: str
    key: str
    hit: bool
    seconds: float = 0.0


@dataclass
class DiskCache:
    """Entries under ``root/KIND/KEY.npz``; ``root=None`` caches nothing (every entry is built)."""

    root: Path | None
    events: list[CacheEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # One build at a time: a cold start's fitting and synthesis then take the CPU one after the
    # other, as before the cache, instead of oversubscribing the cores (reads never wait on it).
    _building: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def path(self, kind: str, key: str) -> Path | None:
        return None if self.root is None else self.root / kind / f"{key}.npz"

    def load(self, kind: str, key: str) -> Arrays | None:
        """The entry's arrays, or None when absent or unreadable (a damaged file is rebuilt)."""
        path = self.path(kind, key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("start-up cache: %s unreadable (%s): building it again", path, exc)
            return None

    def save(self, kind: str, key: str, arrays: Mapping[str, np.ndarray]) -> bool:
        """Write the entry atomically; False (and a warning) when the folder cannot be written."""
        path = self.path(kind, key)
        if path is None:
            return False
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
            return True
        except OSError as exc:
            log.warning("start-up cache: cannot write %s (%s): the next start builds it again", path, exc)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return False

    def get_or_build(self, kind: str, name: str, key: str, build: Callable[[], Mapping[str, np.ndarray]]) -> Arrays:
        """The entry from disk, or built, saved and returned."""
        import time

        found = self.load(kind, key)
        if found is not None:
            self._note(CacheEvent(kind, name, key, hit=True))
            return found
        with self._building:
            t0 = time.perf_counter()
            built = {k: np.asarray(v) for k, v in build().items()}
            self.save(kind, key, built)
        self._note(CacheEvent(kind, name, key, hit=False, seconds=time.perf_counter() - t0))
        return built

    def _note(self, event: CacheEvent) -> None:
        with self._lock:
            self.events.append(event)

    def built(self, kind: str | None = None) -> list[CacheEvent]:
        with self._lock:
            return [e for e in self.events if not e.hit and (kind is None or e.kind == kind)]

    def hits(self, kind: str | None = None) -> list[CacheEvent]:
        with self._lock:
            return [e for e in self.events if e.hit and (kind is None or e.kind == kind)]
