"""Call events: one small frozen model per kind, one `CallEvent` union (after LiveKit Agents'
voice/events.py).

Producers (the voice pipeline, the dialog, the policy, the warm transfer, the survey) emit these;
consumers in the process (the store, the metrics, the CLI, the what-if replay) match on the class
instead of re-checking a dict's shape. Where an event leaves the process (the store's JSON, a JSON
line, HTTP) `to_json()` gives the wire dict, which is a contract: exactly the keys, values and key
order the bare dicts had. `event_from_json` reads it back, leniently (stored calls are old and
hand-made ones partial): a missing key takes its default, an unknown key is kept in `extra`, an
unknown kind becomes an `UnknownEvent`. Nothing is validated here; readers that need a type check it.

A key that only some producers send (a turn's NLU fields, a transfer's agent) defaults to
`ABSENT` and is left out of the wire dict; None is a value ("no accepted intent"), not absence.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, TypeVar, Union

from calls.outcome import Outcome


class _Absent(enum.Enum):
    ABSENT = "absent"

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT = _Absent.ABSENT
Absent = Literal[_Absent.ABSENT]

_E = TypeVar("_E", bound="_Event")


@dataclass(frozen=True, kw_only=True)
class _Event:
    """The wire dict is ``{"event": type, <fields in declared order, ABSENT left out>, **extra}``."""

    type: ClassVar[str]
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this model does not name, kept as sent

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.type}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is ABSENT:
                continue
            out[f.name] = value.value if isinstance(value, enum.Enum) else value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls: type[_E], data: Mapping[str, Any]) -> _E:
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names and k != "event"}
        return cls(**known, extra=extra)


# -- the caller's side of the conversation ------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TurnEvent(_Event):
    """A caller turn understood; the NLU fields come from the responder (ivr.triage)."""

    type: ClassVar[Literal["turn"]] = "turn"
    index: int = 0
    start: float = 0.0  # media seconds
    end: float = 0.0
    text: str = ""  # what the caller said, or the dialog's masked rendering of a keyed entry
    prosody: dict[str, Any] | None = None
    intent: str | None | Absent = ABSENT  # the classifier's guess
    confidence: float | None | Absent = ABSENT
    accepted_intent: str | None | Absent = ABSENT  # what the dialog accepted (the policy acts on it)
    entities: dict[str, Any] | Absent = ABSENT
    frustration: dict[str, Any] | Absent = ABSENT  # {"score", "smoothed", "parts"?}
    signals: dict[str, Any] | Absent = ABSENT  # what the policy saw: the what-if replays it
    keypad: bool | Absent = ABSENT
    frustration_not_acted_on: str | Absent = ABSENT


@dataclass(frozen=True, kw_only=True)
class NoInputEvent(_Event):
    """The caller stayed silent past the no-input timeout."""

    type: ClassVar[Literal["no_input"]] = "no_input"
    at: float = 0.0  # media seconds
    signals: dict[str, Any] | Absent = ABSENT


@dataclass(frozen=True, kw_only=True)
class DtmfEvent(_Event):
    """A key the bot answered itself (keyed entries arrive as a TurnEvent with `keypad`)."""

    type: ClassVar[Literal["dtmf"]] = "dtmf"
    digit: str = ""


# -- the bot's side -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class BotEvent(_Event):
    """A bot reply, reported once it is known whether the caller let it finish."""

    type: ClassVar[Literal["bot"]] = "bot"
    start: float | None = None  # media seconds its audio started; None when none played
    text: str = ""
    interrupted: bool = False


@dataclass(frozen=True, kw_only=True)
class StagesEvent(_Event):
    """Where one reply's wait went (milliseconds), from the pipeline's own trace."""

    type: ClassVar[Literal["stages"]] = "stages"
    turn: int = 0
    end_of_turn_ms: float | None = None
    asr_ms: float | None = None
    asr_speculative: bool = False
    asr_window: str | None = None
    asr_dropped: int | None = None
    nlu_ms: float | None = None
    tts_first_chunk_ms: float | None = None
    speech_end_to_audio_ms: float | None = None
    mono: dict[str, Any] = field(default_factory=dict)  # the same moments on the host's monotonic clock


# -- the policy and the hand-off ------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class DecisionEvent(_Event):
    """The escalation policy decided to transfer."""

    type: ClassVar[Literal["decision"]] = "decision"
    action: str = "transfer"
    reason: str = ""
    rule: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    policy_version: int | None = None


@dataclass(frozen=True, kw_only=True)
class SummaryEvent(_Event):
    """The hand-off summary (nlu's CallSummary.to_dict(), plus `escalation_reason`), sent flat."""

    type: ClassVar[Literal["summary"]] = "summary"
    summary: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.type, **self.summary, **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SummaryEvent:
        return cls(summary={k: v for k, v in data.items() if k != "event"})


@dataclass(frozen=True, kw_only=True)
class TransferEvent(_Event):
    """The warm transfer entered `state` (routing.transfer.State's value); the rest depends on it."""

    type: ClassVar[Literal["transfer"]] = "transfer"
    state: str = ""
    reason: str | Absent = ABSENT  # hold
    agent: str | Absent = ABSENT  # ringing, whisper, referring, bridged, handed_back, done
    time_to_bridge_s: float | Absent = ABSENT  # bridged, done by REFER
    mode: str | Absent = ABSENT  # "refer"
    ended: str | None | Absent = ABSENT  # done after a bridge: who hung up ("handed_back": the agent passed the caller back)
    handle_s: float | Absent = ABSENT  # handed_back, done after a bridge: seconds from the agent's answer to their leaving
    tried: list[str] | Absent = ABSENT  # back_to_bot
    intro: str | None | Absent = ABSENT  # bridged: the line the caller heard first ("You're now speaking with Alice."), None without one


@dataclass(frozen=True, kw_only=True)
class TransferAttemptEvent(_Event):
    """How one agent's INVITE went: answered, busy, declined, no_answer, failed, agent_hung_up, cancelled."""

    type: ClassVar[Literal["transfer_attempt"]] = "transfer_attempt"
    agent: str = ""
    result: str = ""
    status: int | Absent = ABSENT  # the SIP status of a failure
    error: str | Absent = ABSENT
    answered_after_s: float | Absent = ABSENT
    mode: str | Absent = ABSENT


@dataclass(frozen=True, kw_only=True)
class LiveTranscriptEvent(_Event):
    """A line of a bridged call, as the agent's desktop shows it."""

    type: ClassVar[Literal["live_transcript"]] = "live_transcript"
    speaker: str = ""  # "caller" or "agent"
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class SurveyStartedEvent(_Event):
    type: ClassVar[Literal["survey_started"]] = "survey_started"


@dataclass(frozen=True, kw_only=True)
class SurveyEvent(_Event):
    type: ClassVar[Literal["survey"]] = "survey"
    score: int | None = None  # 1-5; None when the caller keyed nothing


@dataclass(frozen=True, kw_only=True)
class CallbackRequestedEvent(_Event):
    """Nobody could take the call and the caller asked to be called back."""

    type: ClassVar[Literal["callback_requested"]] = "callback_requested"


# -- the call's end -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class EndEvent(_Event):
    type: ClassVar[Literal["end"]] = "end"
    outcome: Outcome | str = ""  # an Outcome, or the transport's end reason when it ended the call


@dataclass(frozen=True, kw_only=True)
class InterruptedEvent(_Event):
    """Written by the store for a call whose worker died: found and closed by another."""

    type: ClassVar[Literal["interrupted"]] = "interrupted"
    worker: str | None = None
    reason: str | None = None
    found_by: str | None = None


@dataclass(frozen=True, kw_only=True)
class UnknownEvent(_Event):
    """A stored event of a kind this version does not know, kept whole."""

    type: ClassVar[str] = "unknown"
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UnknownEvent:
        return cls(data=dict(data))


CallEvent = Union[
    TurnEvent, NoInputEvent, DtmfEvent, BotEvent, StagesEvent, DecisionEvent, SummaryEvent, TransferEvent,
    TransferAttemptEvent, LiveTranscriptEvent, SurveyStartedEvent, SurveyEvent, CallbackRequestedEvent, EndEvent,
    InterruptedEvent, UnknownEvent,
]

EVENT_TYPES: dict[str, type[_Event]] = {
    cls.type: cls
    for cls in (TurnEvent, NoInputEvent, DtmfEvent, BotEvent, StagesEvent, DecisionEvent, SummaryEvent,
                TransferEvent, TransferAttemptEvent, LiveTranscriptEvent, SurveyStartedEvent, SurveyEvent,
                CallbackRequestedEvent, EndEvent, InterruptedEvent)
}


def event_from_json(data: Mapping[str, Any]) -> CallEvent:
    """A wire dict (stored, or a JSON line) as its typed event; an unknown kind as `UnknownEvent`."""
    kind = data.get("event")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    return cls.from_json(data) if cls is not None else UnknownEvent.from_json(data)


__all__ = [
    "ABSENT", "Absent", "CallEvent", "EVENT_TYPES", "event_from_json", "Outcome",
    "TurnEvent", "NoInputEvent", "DtmfEvent", "BotEvent", "StagesEvent", "DecisionEvent", "SummaryEvent",
    "TransferEvent", "TransferAttemptEvent", "LiveTranscriptEvent", "SurveyStartedEvent", "SurveyEvent",
    "CallbackRequestedEvent", "EndEvent", "InterruptedEvent", "UnknownEvent",
]
