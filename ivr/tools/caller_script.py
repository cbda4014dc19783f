"""The unseen-caller set as data: parse `ivr/tools/data/unseen_callers.yaml` into typed specs.

Pure: no audio, no models. A caller's lines are written with markers for what a person does
inside a turn (`{uh}`, `{um}`, `{er}`, `{hmm}` fillers, `{pause 0.9}` silences), so the audio
can be rebuilt exactly and the metrics know where each line's pauses are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_SET = Path(__file__).resolve().parent / "data" / "unseen_callers.yaml"
SPLITS = ("tune", "heldout", "fresh")
FILLERS = ("um", "uh", "er", "hmm")
MAX_PAUSE_S = 3.0

# What "routed right" means for each intent: the step that shows the bot met the need, or the
# policy's reasons that hand the call on rightly.
ROUTINE_STEPS = {"order_status": "order_lookup", "password_reset": "password_reset",
                 "account_balance": "balance", "opening_hours": "faq"}
HANDOFF_REASONS = {"speak_to_human": ("explicit_request", "dtmf"), "fraud_stolen_card": ("sensitive_intent",),
                   "complaint": ("sensitive_intent",), "billing_dispute": ("sensitive_intent",)}
INTENTS = tuple(ROUTINE_STEPS) + tuple(HANDOFF_REASONS)
NOISE_KINDS = ("white", "pink", "babble")


class ScriptError(ValueError):
    """A caller set that cannot be used; the message names the caller and the field."""


@dataclass(frozen=True)
class Piece:
    """Speech to synthesize, a filler clip, or silence."""

    kind: str  # "speech", "filler", "pause"
    text: str = ""
    seconds: float = 0.0


_MARKER = re.compile(r"\{([^{}]*)\}")


def parse_line(line: str) -> tuple[Piece, ...]:
    """`"I want to move, {uh} {pause 0.9} my delivery"` → speech, filler, pause, speech."""
    if _MARKER.sub("", line).count("{") or _MARKER.sub("", line).count("}"):
        raise ScriptError(f"unbalanced braces in {line!r}")
    pieces: list[Piece] = []
    pos = 0
    for m in _MARKER.finditer(line):
        _add_speech(pieces, line[pos:m.start()])
        pieces.append(_marker(m.group(1).strip(), line))
        pos = m.end()
    _add_speech(pieces, line[pos:])
    if not any(p.kind == "speech" for p in pieces):
        raise ScriptError(f"no words in {line!r}")
    return tuple(pieces)


def _add_speech(pieces: list[Piece], text: str) -> None:
    """Text between markers, when it has a word in it: the comma in "been, {um}, {pause 0.7}" is
    not speech (a TTS voice says nothing for it)."""
    text = " ".join(text.split())
    if any(c.isalnum() for c in text):
        pieces.append(Piece("speech", text))


def _marker(body: str, line: str) -> Piece:
    parts = body.split()
    if len(parts) == 1 and parts[0].lower() in FILLERS:
        return Piece("filler", parts[0].lower())
    if parts and parts[0] == "pause":
        if len(parts) != 2:
            raise ScriptError(f"pause needs seconds: {{{body}}} in {line!r}")
        try:
            s = float(parts[1])
        except ValueError:
            raise ScriptError(f"pause needs seconds: {{{body}}} in {line!r}") from None
        if not 0 < s <= MAX_PAUSE_S:
            raise ScriptError(f"pause {s} s outside (0, {MAX_PAUSE_S}] in {line!r}")
        return Piece("pause", seconds=s)
    raise ScriptError(f"unknown marker {{{body}}} in {line!r} (fillers: {', '.join(FILLERS)}; or pause SECONDS)")


def plain_text(pieces: tuple[Piece, ...], *, fillers: bool = False) -> str:
    """The words of a line, as the reference for WER (fillers left out: ASR is not asked for them)."""
    words = [p.text for p in pieces if p.kind == "speech" or (fillers and p.kind == "filler")]
    return " ".join(words)


def has_pause(pieces: tuple[Piece, ...]) -> bool:
    """A line with a pause or a filler inside it: where a turn must not be ended early."""
    last_speech = max(i for i, p in enumerate(pieces) if p.kind == "speech")
    return any(p.kind in ("pause", "filler") for p in pieces[:last_speech])


@dataclass(frozen=True)
class Voice:
    id: str
    engine: str  # "piper" or "espeak"
    rate: float  # piper: length scale (1.0 normal); espeak: words per minute
    espeak_voice: str = ""
    sox: tuple[str, ...] = ()  # sox effects after synthesis, e.g. ("speed", "1.13", "pitch", "-212")
    heldout_only: bool = False


@dataclass(frozen=True)
class Noise:
    kind: str  # "white", "pink", "babble"
    snr_db: float


@dataclass(frozen=True)
class Number:
    """A value the caller gives: its digits, and how this caller says it (a line with markers)."""

    digits: str
    say: str


@dataclass(frozen=True)
class Expect:
    """Where the call should end: the need met by the bot (`step`), or handed on for `reasons`."""

    first_intent: str
    step: str | None = None
    reasons: tuple[str, ...] = ()

    @property
    def handoff(self) -> bool:
        return self.step is None


@dataclass(frozen=True)
class CallerSpec:
    id: str
    split: str
    intent: str
    voice: Voice
    opening: str  # the line that states the need
    noise: Noise | None = None
    preamble: str | None = None  # said first, before the need (sarcasm, a greeting)
    restate: str | None = None  # the need again, in other words, when the bot did not get it
    order: Number | None = None
    account: Number | None = None
    pin: Number | None = None
    keypad: bool = False  # numbers keyed on the keypad (DTMF, then #) instead of said
    yes: str = "Yes, that's right."
    no: str = "No, that's not right."
    closing: str = "No, that's all. Thank you, goodbye."
    accept_human: str = "Yes, please."
    decline_human: str = "No, thank you."
    expect: Expect = field(default_factory=lambda: Expect("order_status"))
    tags: tuple[str, ...] = ()

    def lines(self) -> dict[str, str]:
        """Every line this caller may say, by the key the answer logic picks."""
        out = {"opening": self.opening, "yes": self.yes, "no": self.no, "closing": self.closing,
               "accept_human": self.accept_human, "decline_human": self.decline_human,
               "restate": self.restate or self.opening}
        if self.preamble:
            out["preamble"] = self.preamble
        for slot in ("order", "account", "pin"):
            n = getattr(self, slot)
            if n is not None:
                out[slot] = n.say
        return out

    @property
    def with_pauses(self) -> bool:
        """Some line it says has a pause or filler inside it."""
        return any(has_pause(parse_line(t)) for t in self.lines().values())


@dataclass(frozen=True)
class CallerSet:
    voices: dict[str, Voice]
    callers: tuple[CallerSpec, ...]

    def split(self, name: str) -> tuple[CallerSpec, ...]:
        if name == "all":
            return self.callers
        return tuple(c for c in self.callers if c.split == name)


_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()


def spoken_digits(digits: str) -> str:
    """"4321" → "four three two one": how a number is said when the YAML gives no `say`."""
    return " ".join(_DIGIT_WORDS[int(d)] for d in digits)


def _number(raw, where: str) -> Number:
    if isinstance(raw, (str, int)):
        raw = {"digits": str(raw)}
    digits = str(raw.get("digits", ""))
    if not digits.isdigit():
        raise ScriptError(f"{where}: digits must be digits, not {digits!r}")
    return Number(digits, raw.get("say") or spoken_digits(digits))


def _voice(vid: str, raw: dict) -> Voice:
    engine = raw.get("engine")
    if engine not in ("piper", "espeak"):
        raise ScriptError(f"voice {vid}: engine must be piper or espeak")
    sox = tuple(str(x) for x in (raw.get("sox") or "").split()) if isinstance(raw.get("sox"), str) else tuple(raw.get("sox") or ())
    default_rate = 1.0 if engine == "piper" else 160
    return Voice(vid, engine, float(raw.get("rate", default_rate)), raw.get("voice", ""), sox, bool(raw.get("heldout_only")))


def _noise(raw, where: str) -> Noise | None:
    if raw in (None, "none"):
        return None
    kind, _, snr = str(raw).partition(" ")
    if kind not in NOISE_KINDS:
        raise ScriptError(f"{where}: noise must be none or one of {NOISE_KINDS} with an SNR, e.g. 'pink 20'")
    try:
        return Noise(kind, float(snr))
    except ValueError:
        raise ScriptError(f"{where}: noise {raw!r} needs an SNR in dB") from None


def _caller(raw: dict, split: str, voices: dict[str, Voice]) -> CallerSpec:
    cid = raw.get("id") or "?"
    where = f"caller {cid}"
    intent = raw.get("intent")
    if intent not in INTENTS:
        raise ScriptError(f"{where}: intent must be one of {INTENTS}")
    vid = raw.get("voice")
    if vid not in voices:
        raise ScriptError(f"{where}: unknown voice {vid!r}")
    voice = voices[vid]
    if voice.heldout_only and split == "tune":
        raise ScriptError(f"{where}: voice {vid} is heldout_only (never in tune)")
    exp = raw.get("expect") or {}
    expect = Expect(
        first_intent=exp.get("first_intent", intent),
        step=exp.get("step", ROUTINE_STEPS.get(intent)),
        reasons=tuple(exp.get("reasons", HANDOFF_REASONS.get(intent, ()))),
    )
    kw = {k: raw[k] for k in ("preamble", "restate", "yes", "no", "closing", "accept_human", "decline_human") if raw.get(k)}
    spec = CallerSpec(
        id=str(cid), split=split, intent=intent, voice=voice, opening=raw.get("opening") or "",
        noise=_noise(raw.get("noise"), where),
        order=_number(raw["order"], f"{where} order") if raw.get("order") is not None else None,
        account=_number(raw["account"], f"{where} account") if raw.get("account") is not None else None,
        pin=_number(raw["pin"], f"{where} pin") if raw.get("pin") is not None else None,
        keypad=bool(raw.get("keypad")), expect=expect, tags=tuple(raw.get("tags") or ()), **kw,
    )
    if not spec.opening:
        raise ScriptError(f"{where}: opening line missing")
    need = {"order_status": ("order",), "password_reset": ("account",), "account_balance": ("account", "pin")}
    for slot in need.get(intent, ()):
        if getattr(spec, slot) is None:
            raise ScriptError(f"{where}: {intent} needs {slot}")
    for key, text in spec.lines().items():
        try:
            parse_line(text)
        except ScriptError as exc:
            raise ScriptError(f"{where} {key}: {exc}") from None
    return spec


def parse_set(doc: dict) -> CallerSet:
    """The YAML document → a validated CallerSet (ids unique, voices known, split rules kept)."""
    voices = {vid: _voice(vid, raw or {}) for vid, raw in (doc.get("voices") or {}).items()}
    callers: list[CallerSpec] = []
    for split in SPLITS:
        callers += [_caller(raw, split, voices) for raw in doc.get(split) or ()]
    ids = [c.id for c in callers]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ScriptError(f"duplicate caller ids: {', '.join(dup)}")
    return CallerSet(voices, tuple(callers))


def load_set(path: str | Path = DEFAULT_SET) -> CallerSet:
    with open(path, encoding="utf-8") as f:
        return parse_set(yaml.safe_load(f) or {})
