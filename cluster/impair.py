"""Loss and jitter on a UDP path, in user space: a relay on loopback that drops and delays
datagrams the way `tc qdisc ... netem loss 5% delay 20ms 10ms` would.

Why not netem itself: this machine's kernel has no sch_netem ("Specified qdisc kind is unknown"
inside a fresh network namespace), and CI kernels may not either. The relay is deterministic for
a given seed, which netem is not, so a test's figures repeat.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field


@dataclass
class Impairment:
    loss: float = 0.0  # probability that a datagram is dropped
    delay_ms: float = 0.0  # mean one-way delay
    jitter_ms: float = 0.0  # uniform ± around the mean (netem's plain "delay D J")
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0 or self.delay_ms < 0 or self.jitter_ms < 0 or self.jitter_ms > self.delay_ms:
            raise ValueError("impairment: 0 <= loss <= 1, 0 <= jitter <= delay")


@dataclass
class UdpImpairer:
    """`await relay.start()`; send to `relay.port`, it forwards to `target` (and replies back to
    the last sender), dropping and delaying per `impairment` in both directions."""

    target: tuple[str, int]
    impairment: Impairment
    host: str = "127.0.0.1"
    port: int = 0
    forwarded: int = 0
    dropped: int = 0
    _rng: random.Random = field(init=False)
    _transport: asyncio.DatagramTransport | None = field(default=None, init=False)
    _peer: tuple[str, int] | None = field(default=None, init=False)
    _pending: set = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.impairment.seed)

    async def start(self) -> "UdpImpairer":
        loop = asyncio.get_running_loop()
        relay = self

        class _P(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):  # type: ignore[override]
                relay._on(data, (addr[0], addr[1]))

        self._transport, _ = await loop.create_datagram_endpoint(_P, local_addr=(self.host, self.port))
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    def _on(self, data: bytes, addr: tuple[str, int]) -> None:
        if addr == self.target:
            dest = self._peer
        else:
            self._peer, dest = addr, self.target
        if dest is None:
            return
        imp = self.impairment
        if self._rng.random() < imp.loss:
            self.dropped += 1
            return
        delay = max(0.0, imp.delay_ms + self._rng.uniform(-imp.jitter_ms, imp.jitter_ms)) / 1000
        handle = asyncio.get_running_loop().call_later(delay, self._send, data, dest)
        self._pending.add(handle)

    def _send(self, data: bytes, dest: tuple[str, int]) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, dest)
            self.forwarded += 1

    def close(self) -> None:
        for h in self._pending:
            h.cancel()
        self._pending.clear()
        if self._transport is not None:
            self._transport.close()
