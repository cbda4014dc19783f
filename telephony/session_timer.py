"""Session timers (RFC 4028) as pure rules: what a request asks, what we answer, when to act.

Carriers and SBCs tear down a dialog that is not refreshed (often after 15-30 minutes), so the
UAS takes part: it reads `Session-Expires` and `Min-SE` from an INVITE, re-INVITE or UPDATE,
refuses an interval under its minimum with 422 (and its `Min-SE`), picks the refresher when the
UAC left it open, and answers with the interval in force. The refresher refreshes at half the
interval; the other side ends the session with BYE if no refresh came by
`interval - min(32, interval / 3)` (§10). No I/O here: `answering` keeps the timers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Refresher = Literal["uac", "uas"]

RFC_MIN_SE = 90  # §4: the smallest Min-SE allowed on the wire; tests lower `min_se` below it


@dataclass(frozen=True)
class SessionTimerConfig:
    """Our side of RFC 4028: the interval we ask for and the smallest we accept (seconds)."""

    session_expires: float = 1800.0
    min_se: float = RFC_MIN_SE

    def __post_init__(self) -> None:
        for name in ("session_expires", "min_se"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if self.session_expires < self.min_se:
            raise ValueError(f"session_expires ({self.session_expires}) must be >= min_se ({self.min_se})")


@dataclass(frozen=True)
class SessionTimer:
    """The session timer in force for a dialog, as we answered it."""

    interval: float
    refresher: Refresher
    peer_supports: bool  # the UAC sent `timer` in Supported or Require

    @property
    def we_refresh(self) -> bool:
        """We are the UAS of the dialog: refresher=uas means us."""
        return self.refresher == "uas"

    def refresh_in(self) -> float:
        """When the refresher sends its refresh (§7.4: half the interval)."""
        return self.interval / 2

    def expire_in(self) -> float:
        """When the non-refresher gives up and sends BYE (§10)."""
        return self.interval - min(32.0, self.interval / 3)

    def response_headers(self) -> list[tuple[str, str]]:
        """What goes into our 2xx: Session-Expires, and Require: timer when the UAC must refresh (§9)."""
        headers = [("Session-Expires", f"{_fmt(self.interval)};refresher={self.refresher}")]
        if self.refresher == "uac":
            headers.append(("Require", "timer"))
        return headers


@dataclass(frozen=True)
class TooBrief:
    """The request's interval is under our minimum: answer 422 with this Min-SE (§8.1)."""

    min_se: float

    def response_headers(self) -> list[tuple[str, str]]:
        return [("Min-SE", _fmt(self.min_se))]


def _fmt(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def parse_session_expires(value: str | None) -> tuple[float, Refresher | None] | None:
    """'1800;refresher=uac' → (1800, 'uac'); None when absent; ValueError when not delta-seconds."""
    if value is None:
        return None
    delta, *params = [p.strip() for p in value.split(";")]
    if not delta.isdigit():
        raise ValueError(f"Session-Expires is not delta-seconds: {value!r}")
    refresher = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return float(int(delta)), refresher  # type: ignore[return-value]


def parse_min_se(value: str | None) -> float | None:
    if value is None:
        return None
    delta = value.split(";")[0].strip()
    if not delta.isdigit():
        raise ValueError(f"Min-SE is not delta-seconds: {value!r}")
    return float(int(delta))


def negotiate(session_expires: str | None, min_se: str | None, supported: list[str], require: list[str],
              config: SessionTimerConfig) -> SessionTimer | TooBrief | None:
    """Our answer to a session-creating or refreshing request (RFC 4028 §9).

    None: no timer (the UAC asked for none and does not support them). `TooBrief`: 422.
    Raises ValueError on a malformed header (the caller answers 400).
    """
    tags = {t.lower() for t in supported} | {t.lower() for t in require}
    peer_supports = "timer" in tags
    asked = parse_session_expires(session_expires)
    floor = max(parse_min_se(min_se) or 0.0, config.min_se)
    if asked is None:
        if not peer_supports:
            return None  # nothing asked, and the UAC could not refresh: leave the session untimed
        return SessionTimer(max(config.session_expires, floor), "uac", True)
    interval, refresher = asked
    if interval < config.min_se:
        return TooBrief(config.min_se)
    # We may shorten the interval to our own, but never under either side's minimum (§9).
    interval = max(min(interval, config.session_expires), floor)
    if refresher is None:
        refresher = "uac" if peer_supports else "uas"
    elif refresher == "uac" and not peer_supports:
        refresher = "uas"  # a UAC that cannot refresh cannot be told to
    return SessionTimer(interval, refresher, peer_supports)


__all__ = ["RFC_MIN_SE", "SessionTimer", "SessionTimerConfig", "TooBrief", "negotiate", "parse_min_se",
           "parse_session_expires"]
