"""What the shared ASR pool did and what it was spared: counts a capacity level reads.

On 2 cores the ceiling is Whisper's CPU a turn queued on the ASR workers (README, *What Whisper
costs a turn*), so work nobody will read is worth counting: a speculative transcription dropped
while still queued never runs (`cancelled_queued`); one dropped while running (`dropped_running`)
stops at its next model pass (`abandoned`); Whisper's end reading is only made where end of turn
will read it (`end_read` against `end_skipped`). `queue_wait_s`: turns waiting for a worker.
Updated from the event loop and the ASR workers; a lock keeps the counts whole.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields


@dataclass
class AsrStats:
    runs: int = 0  # transcriptions that started in a worker
    queue_wait_s: float = 0.0  # summed over `runs`: submitted → started
    cancelled_queued: int = 0  # dropped before a worker took them: never ran
    dropped_running: int = 0  # dropped while a worker had them: their result is ignored...
    abandoned: int = 0  # ...and of those, stopped at the next model pass (the rest had finished)
    end_read: int = 0  # end readings made (voice.end_reading, one decoder pass each)
    end_skipped: int = 0  # finished-looking readings whose end nobody would read
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def totals(self) -> dict[str, float]:
        """The counts as a plain mapping (`web.prometheus` exports them as ivr_asr_*)."""
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
