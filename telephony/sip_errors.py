"""The one exception type the SIP parsers raise.

Everything that reads bytes from the network funnels its failures into `SipParseError`, so the
transport can drop (or answer 400/505 to) a bad datagram with a single `except` and never be
taken down by an IndexError deep inside a header parser.
"""

from __future__ import annotations


class SipParseError(ValueError):
    """Malformed or oversized SIP input.

    `status` is the response code a UAS should answer with when a response is possible at all
    (400 for syntax, 505 for an unknown SIP version, 413 for an oversized message).
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
