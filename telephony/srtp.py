"""SRTP and SRTCP (RFC 3711) for one call, over libsrtp (pylibsrtp): protect what we send with
our key, unprotect what arrives with the peer's.

libsrtp keeps the rollover counter and the replay window per SSRC. A packet that fails
(forged, corrupted, replayed, too short) is dropped and counted by kind, never raised: junk on
an RTP port must not end a call.
"""

from __future__ import annotations

from dataclasses import dataclass

import pylibsrtp

from .sdes import SrtpKeys

_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


@dataclass
class SrtpCounters:
    """Inbound packets dropped, by why (`replayed`: libsrtp's replay window said so)."""

    replayed: int = 0
    rejected: int = 0  # authentication failed, malformed, too short


def _session(key: bytes, suite: str, inbound: bool) -> pylibsrtp.Session:
    policy = pylibsrtp.Policy(key=key, srtp_profile=_PROFILES[suite],
                              ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND if inbound else pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    return pylibsrtp.Session(policy)


class SrtpContext:
    """The two directions of one call's SRTP; `rekey_inbound` when a re-INVITE brings a new key."""

    def __init__(self, keys: SrtpKeys) -> None:
        if keys.suite not in _PROFILES:
            raise ValueError(f"unsupported SRTP suite {keys.suite!r}")
        self.keys = keys
        self._tx = _session(keys.local_key, keys.suite, inbound=False)
        self._rx = _session(keys.remote_key, keys.suite, inbound=True)
        self.counters = SrtpCounters()

    def update(self, keys: SrtpKeys) -> None:
        """New keys from a re-negotiation: only the directions whose key changed start afresh."""
        if keys.suite != self.keys.suite or keys.local_key != self.keys.local_key:
            self._tx = _session(keys.local_key, keys.suite, inbound=False)
        if keys.suite != self.keys.suite or keys.remote_key != self.keys.remote_key:
            self._rx = _session(keys.remote_key, keys.suite, inbound=True)
        self.keys = keys

    def protect(self, packet: bytes) -> bytes:
        return self._tx.protect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._tx.protect_rtcp(packet)

    def unprotect(self, data: bytes) -> bytes | None:
        """The RTP packet inside `data`, or None (dropped and counted)."""
        return self._unprotect(self._rx.unprotect, data)

    def unprotect_rtcp(self, data: bytes) -> bytes | None:
        return self._unprotect(self._rx.unprotect_rtcp, data)

    def _unprotect(self, fn, data: bytes) -> bytes | None:
        if len(data) < 12:
            self.counters.rejected += 1
            return None
        try:
            return fn(data)
        except pylibsrtp.Error as exc:
            if "replay" in str(exc):
                self.counters.replayed += 1
            else:
                self.counters.rejected += 1
            return None
