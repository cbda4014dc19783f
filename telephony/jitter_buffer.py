"""A jitter buffer on the RTP timestamp timeline: reorder, absorb jitter, conceal loss.

Pure and clock-free: the media layer pushes decoded packets as they arrive and pops one 20 ms
frame per tick of its own clock. Working in timestamp units rather than packet counts means a
peer sending 10, 20 or 30 ms packets (sipp's g711a.pcap is 30 ms) all come out as the same
160-sample frames. Loss is concealed by one attenuated repeat of the previous frame, then
silence, which is all G.711 telephony needs (a speech model downstream must never see a gap).

The delay adapts upward: it starts small (what a LAN needs, so the caller's last word reaches
end-of-turn detection sooner) and each packet that arrives after its slot was played raises the
target by one frame (at most once a second, so one stall of our own loop, which makes a burst
of packets look late, costs one frame and not a fifth of a second), added by holding the
play-out point for one concealed frame. A path with more jitter settles at the delay it needs
after a few late packets instead of losing audio for the rest of the call.

And it gives back delay it does not need: a burst (the peer catching up after a stall, a
network queue draining) leaves more audio buffered than the target, and that excess would
otherwise delay every later word, and the end of every turn, for the rest of the call. When the
buffer has held at least a frame more than its target for SHED_WINDOW pops in a row, the excess
is dropped, one quiet frame at a time (a pause, never speech).
"""

from __future__ import annotations

import numpy as np

_WRAP = 1 << 32
GROWTH_EVERY = 50  # pops (1 s of 20 ms frames) between two increases of the target
SHED_WINDOW = 25  # pops (0.5 s) the buffer must stay above its target before excess is shed
QUIET_RMS = 180  # int16 RMS (about -45 dBFS): below it a frame is a pause that may be dropped


class JitterBuffer:
    def __init__(
        self,
        frame_samples: int = 160,
        target_ms: float = 60.0,
        max_ms: float = 300.0,
        jump_ms: float = 200.0,
        resync_ms: float = 2000.0,
        clock_rate: int = 8000,
        max_target_ms: float | None = None,
    ) -> None:
        per_ms = clock_rate / 1000
        self.frame = frame_samples
        self.target = int(target_ms * per_ms)
        # None: a fixed target. Otherwise late packets raise it, one frame at a time, to this.
        self.max_target = self.target if max_target_ms is None else max(self.target, int(max_target_ms * per_ms))
        self._hold = 0  # frames to conceal without advancing the play-out point (delay being added)
        self._since_growth = GROWTH_EVERY  # pops since the target last grew
        self.max = int(max_ms * per_ms)
        self.jump = int(jump_ms * per_ms)
        self.resync = int(resync_ms * per_ms)
        self._packets: dict[int, np.ndarray] = {}
        self._cursor: int | None = None
        self._ref: int | None = None
        self._last = np.zeros(frame_samples, dtype=np.int16)
        self._concealed_run = 0
        self._late_run = 0
        # counters for tests and metrics
        self.late = 0
        self.duplicates = 0
        self.concealed = 0
        self.dropped = 0
        self.resyncs = 0
        self.grown = 0  # frames of delay added because packets came late
        self.shed = 0  # quiet frames dropped to give back delay above the target
        self._to_shed = 0
        self._low = None  # lowest level after a pop in the current window (samples)
        self._window = 0

    # -- input --------------------------------------------------------------------------------
    def _unwrap(self, ts: int) -> int:
        if self._ref is None:
            self._ref = ts
            return ts
        delta = (ts - self._ref) % _WRAP
        if delta >= _WRAP // 2:
            delta -= _WRAP
        ext = self._ref + delta
        if delta > 0:
            self._ref = ext
        return ext

    def reset(self) -> None:
        self._packets.clear()
        self._cursor = None
        self._ref = None
        self._late_run = 0
        self._hold = 0
        self._to_shed = 0
        self._low = None
        self._window = 0

    def push(self, timestamp: int, samples: np.ndarray, marker: bool = False) -> bool:
        """Add one packet's samples; False when it was late, a duplicate or caused a resync."""
        if len(samples) == 0:
            return False
        ts = self._unwrap(timestamp & 0xFFFFFFFF)
        end = ts + len(samples)
        if self._cursor is not None:
            if ts - self._cursor > self.resync or self._cursor - end > self.resync:
                self._resync(ts, samples)
                return False
            if ts < self._cursor and self.target < self.max_target and self._since_growth >= GROWTH_EVERY:
                self.target += self.frame  # this path has more jitter than the delay allowed for
                self._hold += 1
                self._since_growth = 0
                self.grown += 1
            if end <= self._cursor:
                self.late += 1
                self._late_run += 1
                if self._late_run >= 3:  # the sender's timeline moved back: follow it
                    self._resync(ts, samples)
                return False
        self._late_run = 0
        if ts in self._packets:
            self.duplicates += 1
            return False
        if len(self._packets) >= 1000:
            self.dropped += 1
            return False
        self._packets[ts] = np.asarray(samples, dtype=np.int16)
        return True

    def _resync(self, ts: int, samples: np.ndarray) -> None:
        self.resyncs += 1
        self.reset()
        self._ref = ts & 0xFFFFFFFF
        self._packets[ts & 0xFFFFFFFF] = np.asarray(samples, dtype=np.int16)

    # -- output -------------------------------------------------------------------------------
    @property
    def buffered_samples(self) -> int:
        if not self._packets:
            return 0
        start = self._cursor if self._cursor is not None else min(self._packets)
        return max(0, max(t + len(p) for t, p in self._packets.items()) - start)

    @property
    def started(self) -> bool:
        return self._cursor is not None

    def pop(self) -> np.ndarray | None:
        """The next frame; None until enough audio has arrived to start playing out."""
        if self._cursor is None:
            if not self._packets or self.buffered_samples < self.target:
                return None
            self._cursor = min(self._packets)
        n = self.frame
        self._since_growth += 1
        if self._hold:
            self._hold -= 1
            return self._conceal()
        if self._packets and not self._covers(self._cursor, self._cursor + n):
            first = min(self._packets)
            if first - self._cursor > self.jump:  # long silence gap (DTX, hold): skip ahead
                self._cursor = first
        out, filled = self._take()
        while self._to_shed and filled == n and self._covers(self._cursor, self._cursor + n) and _quiet(out):
            self._to_shed -= 1  # a pause: drop this frame and play the next one now
            self.shed += 1
            out, filled = self._take()
        level = self._watch_level()
        if filled == 0:
            out = self._conceal()
        else:
            self._concealed_run = 0
            self._last = out
        if level > self.max:  # latency crept up (clock drift, burst): drop to target
            new_cursor = self._cursor + level - self.target
            for ts in [t for t, p in self._packets.items() if t + len(p) <= new_cursor]:
                del self._packets[ts]
            self.dropped += 1
            self._cursor = new_cursor
        return out

    def _take(self) -> tuple[np.ndarray, int]:
        """The frame at the cursor (zeros where nothing arrived) and how many samples arrived;
        the cursor moves past it and the packets it used up are released."""
        n = self.frame
        out = np.zeros(n, dtype=np.int16)
        filled = 0
        lo, hi = self._cursor, self._cursor + n
        for ts in sorted(self._packets):
            if ts >= hi:
                break
            pkt = self._packets[ts]
            end = ts + len(pkt)
            a, b = max(lo, ts), min(hi, end)
            if a < b:
                out[a - lo : b - lo] = pkt[a - ts : b - ts]
                filled += b - a
            if end <= hi:
                del self._packets[ts]
        self._cursor = hi
        return out, filled

    def _watch_level(self) -> int:
        """After each pop: has the buffer stayed above its target for a whole window? Returns
        the level (samples buffered past the cursor)."""
        level = self.buffered_samples
        self._low = level if self._low is None else min(self._low, level)
        self._window += 1
        if self._window >= SHED_WINDOW:
            if self._low >= self.target + self.frame:  # never once down to its usual level
                self._to_shed = (self._low - self.target) // self.frame
            self._low, self._window = None, 0
        return level

    def _conceal(self) -> np.ndarray:
        """A frame for a gap: the previous frame at half level once, then silence."""
        self.concealed += 1
        self._concealed_run += 1
        if self._concealed_run == 1:
            return (self._last.astype(np.int32) // 2).astype(np.int16)
        return np.zeros(self.frame, dtype=np.int16)

    def _covers(self, lo: int, hi: int) -> bool:
        return any(ts < hi and ts + len(p) > lo for ts, p in self._packets.items())


def _quiet(frame: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) < QUIET_RMS
