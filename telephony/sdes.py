"""SDES (RFC 4568): the `a=crypto` attribute that carries SRTP master keys inside SDP.

Pure parsing, formatting and choosing; no I/O, no cryptography beyond drawing fresh keys. The
keys travel in clear SDP, so they are only as secret as the signalling: the endpoint offers and
accepts them over SIP/TLS and, unless told otherwise, not over plain UDP or TCP
(`MediaConfig.srtp_insecure_signalling`).

We speak the two suites libsrtp has for 128-bit AES counter mode, `AES_CM_128_HMAC_SHA1_80`
(the one every SDES peer has) and `_32` (a shorter tag). A crypto line with an MKI, several
keys, a key-derivation rate, or a session parameter that turns encryption or authentication
off is passed over (another line of the offer may still do); so is one with a bad key.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
import secrets

SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32")
KEY_BYTES = 30  # 16-byte master key followed by a 14-byte master salt
# Session parameters (RFC 4568 §6.3) we can honour by ignoring them: a window-size hint only.
_HARMLESS = ("WSH=",)


class CryptoError(ValueError):
    """An `a=crypto` value we cannot use."""


@dataclass(frozen=True)
class Crypto:
    """One `a=crypto` line: its tag, suite and master key||salt (lifetime kept for the record)."""

    tag: int
    suite: str
    key: bytes
    lifetime: str | None = None

    def value(self) -> str:
        """The attribute value, as written after `a=crypto:`."""
        inline = base64.b64encode(self.key).decode()
        return f"{self.tag} {self.suite} inline:{inline}" + (f"|{self.lifetime}" if self.lifetime else "")

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"Crypto(tag={self.tag}, suite={self.suite!r}, key=<{len(self.key)} bytes>)"


@dataclass(frozen=True)
class SrtpKeys:
    """What offer/answer agreed: the suite, our key (we protect with it) and theirs (we unprotect)."""

    suite: str
    local_key: bytes
    remote_key: bytes
    tag: int

    def __repr__(self) -> str:
        return f"SrtpKeys(suite={self.suite!r}, tag={self.tag})"


def parse_crypto(value: str) -> Crypto:
    """`1 AES_CM_128_HMAC_SHA1_80 inline:<base64>[|lifetime]` → `Crypto`; `CryptoError` otherwise."""
    parts = value.split()
    if len(parts) < 3 or not _digits(parts[0]) or len(parts[0]) > 9:
        raise CryptoError(f"bad crypto attribute: {value[:60]!r}")
    tag, suite, keys, params = int(parts[0]), parts[1].upper(), parts[2], parts[3:]
    if suite not in SUITES:
        raise CryptoError(f"unsupported crypto suite {suite[:40]!r}")
    if ";" in keys:
        raise CryptoError("several master keys (needs MKI)")
    method, _, info = keys.partition(":")
    if method.lower() != "inline":
        raise CryptoError(f"unsupported key method {method[:20]!r}")
    fields = info.split("|")
    if len(fields) > 3 or (len(fields) >= 2 and ":" in fields[-1]):
        raise CryptoError("MKI is not supported")
    try:
        key = base64.b64decode(fields[0], validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("crypto key is not base64") from None
    if len(key) != KEY_BYTES:
        raise CryptoError(f"crypto key||salt must be {KEY_BYTES} bytes, got {len(key)}")
    lifetime = fields[1] if len(fields) >= 2 else None
    if lifetime is not None and not _lifetime_ok(lifetime):
        raise CryptoError(f"bad key lifetime {lifetime[:20]!r}")
    for p in params:
        if not p.upper().startswith(_HARMLESS):
            raise CryptoError(f"unsupported session parameter {p[:30]!r}")
    return Crypto(tag, suite, key, lifetime)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²".isdigit() is True, int("²") raises


def _lifetime_ok(text: str) -> bool:
    if text.startswith("2^"):
        return _digits(text[2:]) and 10 <= int(text[2:]) <= 48
    return _digits(text) and int(text) >= 1024


def crypto_lines(attributes: list[tuple[str, str | None]]) -> list[Crypto]:
    """The usable `a=crypto` lines of one m= section, in the offer's order (the rest skipped)."""
    out = []
    for name, value in attributes:
        if name == "crypto" and value:
            try:
                out.append(parse_crypto(value))
            except CryptoError:
                continue
    return out


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def offer_lines(suites: tuple[str, ...] = SUITES) -> tuple[Crypto, ...]:
    """What we offer: one line per suite, each with its own fresh key (tags 1, 2, ...)."""
    return tuple(Crypto(i + 1, s, new_key()) for i, s in enumerate(suites))


def choose(offered: list[Crypto], local_key: bytes | None = None) -> tuple[Crypto, SrtpKeys] | None:
    """Answer an offer's crypto lines: the first usable one (the offerer's preference), our key.

    `local_key` keeps our key across a re-INVITE so the stream we send is not re-keyed."""
    if not offered:
        return None
    theirs = offered[0]
    mine = Crypto(theirs.tag, theirs.suite, local_key or new_key())
    return mine, SrtpKeys(theirs.suite, mine.key, theirs.key, theirs.tag)


def accept(answered: list[Crypto], ours: tuple[Crypto, ...]) -> SrtpKeys | None:
    """Read the answer to our crypto offer: its line must echo one of our tags and suites."""
    by_tag = {c.tag: c for c in ours}
    for c in answered:
        mine = by_tag.get(c.tag)
        if mine is not None and mine.suite == c.suite:
            return SrtpKeys(c.suite, mine.key, c.key, c.tag)
    return None
