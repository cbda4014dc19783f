"""Scoring one scripted call from what happened: its events, the lines fed and the bot's audio.

Pure functions over plain data, so each figure can be checked on a hand-built call:
routed right, first intent, cut-ins (the bot ended a caller turn, or started talking, while that
line still had audio to come), a call ended by the bot before the need was met or handed on,
word errors of the caller's turns against the script, and the dead air after each line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jiwer

from calls.outcome import Outcome
from ivr.tools.caller_script import CallerSpec, has_pause, parse_line, plain_text
from voice.scripted_caller import FedLine
from voice.wer import normalise

CUT_TOLERANCE_S = 0.3  # a turn ending this close to the line's last sound ended with it (VAD tails)
MATCH_SLACK_S = 0.5  # a turn belongs to the line it overlaps most, with this slack at each side
SUCCESS = ("found", "sent", "told", "answered")
BOT_ENDED = (Outcome.BOT_RESOLVED, Outcome.ABANDONED)


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    text: str
    intent: str | None = None
    asr_s: float = 0.0  # wall seconds Whisper took on it (the stages event): media time leaves it out
    window: str = ""  # which readings were made (voice.models: "fitted, base kept (logprob)", ...)


def turns_of(events: list[dict]) -> list[Turn]:
    stages = {e.get("turn"): e for e in events if e.get("event") == "stages"}
    return [Turn(e["start"], e["end"], e.get("text") or "", e.get("intent"),
                 (stages.get(e.get("index"), {}).get("asr_ms") or 0.0) / 1000,
                 stages.get(e.get("index"), {}).get("asr_window") or "")
            for e in events if e.get("event") == "turn"]


def assign(lines: list[FedLine], turns: list[Turn]) -> dict[int, list[Turn]]:
    """Each caller turn to the spoken line it overlaps most (turns over no line are left out)."""
    out: dict[int, list[Turn]] = {ln.index: [] for ln in lines}
    for t in turns:
        best, best_overlap = None, 0.0
        for ln in lines:
            if ln.dtmf:
                continue
            a, b = ln.speech_start - MATCH_SLACK_S, ln.speech_end + MATCH_SLACK_S
            overlap = min(b, t.end) - max(a, t.start)
            if overlap > best_overlap:
                best, best_overlap = ln.index, overlap
        if best is not None:
            out[best].append(t)
    return out


def cut_in(line: FedLine, turns: list[Turn], bot_audio: list[tuple[float, float]]) -> bool:
    """The bot ended one of this line's turns, or started talking, while the line had sound to come."""
    if line.dtmf or not line.sounds:
        return False
    last = line.speech_end - CUT_TOLERANCE_S
    if any(t.end < last for t in turns):
        return True
    return any(line.speech_start < s < last for s, _e in bot_audio)


def dead_air(line: FedLine, bot_audio: list[tuple[float, float]], within: float = 20.0) -> float | None:
    """Seconds from the line's last sound to the bot's first audio after it (None: no reply)."""
    after = [s for s, _e in bot_audio if line.speech_end <= s <= line.speech_end + within]
    return round(min(after) - line.speech_end, 3) if after else None


_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()


def wer_words(text: str) -> list[str]:
    """Words for WER: voice.wer's normalisation, and "double seven" / "oh" read as digits are read."""
    words = normalise(text)
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in ("double", "triple") and nxt in _DIGIT_WORDS:
            out += [nxt] * (2 if w == "double" else 3)
            i += 2
            continue
        near_digit = nxt in _DIGIT_WORDS or (out and out[-1] in _DIGIT_WORDS)
        out.append("zero" if w == "oh" and near_digit else w)
        i += 1
    return out


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(errors, reference words) by jiwer on the normalised words."""
    r, h = " ".join(wer_words(ref)), " ".join(wer_words(hyp))
    if not r:
        return (len(h.split()), 0)
    if not h:
        return (len(r.split()), len(r.split()))
    o = jiwer.process_words(r, h)
    return o.substitutions + o.deletions + o.insertions, len(r.split())


@dataclass
class CallScore:
    id: str
    split: str
    intent: str
    voice: str
    noise: bool
    pauses: bool
    keypad: bool
    outcome: str
    routed_right: bool
    first_intent: str | None
    first_intent_right: bool
    premature_end: bool
    cut_ins: int  # lines the bot cut in on
    cut_ins_paused: int  # ...of them, lines with a pause or filler inside
    paused_lines: int
    spoken_lines: int
    word_errors: int
    ref_words: int
    dead_air: list[float]
    reason: str | None
    why: str  # one line: what went wrong, for the report
    tags: tuple[str, ...] = ()
    lines: list[dict] = field(default_factory=list)
    dead_air_asr: list[float] = field(default_factory=list)
    second_readings: int = 0  # turns Whisper base read again (voice.second_reading)
    turns_heard: int = 0


def need_met(spec: CallerSpec, steps: list[dict]) -> bool:
    """The routine need is done by the bot: its step, for this caller's own number."""
    want = spec.expect.step
    if want is None:
        return False
    digits = spec.order.digits if spec.intent == "order_status" and spec.order else (
        spec.account.digits if spec.account else "")
    for s in steps:
        if s.get("action") != want or not str(s.get("result", "")).startswith(SUCCESS):
            continue
        detail = str(s.get("detail", ""))
        if want == "faq":
            if detail == "opening_hours":
                return True
        elif digits in detail:
            return True
    return False


def routed(spec: CallerSpec, outcome: str, decision: dict | None, steps: list[dict]) -> tuple[bool, str]:
    """(right, why not)."""
    if spec.expect.handoff:
        if outcome != Outcome.TRANSFERRED or decision is None:
            return False, f"not transferred ({outcome})"
        reason = decision.get("reason")
        if reason not in spec.expect.reasons:
            return False, f"transferred for {reason}"
        got = (decision.get("values") or {}).get("intent")
        if reason == "sensitive_intent" and got != spec.intent:
            return False, f"transferred as {got}"
        return True, ""
    if outcome == Outcome.TRANSFERRED:
        return False, f"transferred for {(decision or {}).get('reason')}"
    if not need_met(spec, steps):
        return False, f"need not met ({outcome})"
    return True, ""


def score_call(spec: CallerSpec, events: list[dict], lines: list[FedLine], bot_audio: list[tuple[float, float]],
               outcome: str, steps: list[dict]) -> CallScore:
    turns = turns_of(events)
    by_line = assign(lines, turns)
    texts = spec.lines()
    decision = next((e for e in events if e.get("event") == "decision"), None)
    right, why = routed(spec, outcome, decision, steps)
    opening = next((ln for ln in lines if ln.key == "opening"), None)
    first = by_line[opening.index][0].intent if opening is not None and by_line[opening.index] else None
    cut = cut_paused = paused = spoken = errors = ref_words = 0
    gaps: list[float] = []
    gaps_asr: list[float] = []  # the same plus the line's last ASR run: a bound on a live call's wait
    rows = []
    for ln in lines:
        row = {"key": ln.key, "start": round(ln.start, 2), "end": round(ln.end, 2)}
        if ln.dtmf:
            rows.append({**row, "dtmf": ln.dtmf})
            continue
        pieces = parse_line(texts[ln.key])
        ref = plain_text(pieces)
        hyp = " ".join(t.text for t in by_line[ln.index])
        e, n = word_errors(ref, hyp)
        c = cut_in(ln, by_line[ln.index], bot_audio)
        p = has_pause(pieces)
        d = dead_air(ln, bot_audio) if not c else None
        spoken += 1
        paused += p
        cut += c
        cut_paused += c and p
        errors += e
        ref_words += n
        asr_s = by_line[ln.index][-1].asr_s if by_line[ln.index] else 0.0
        if d is not None:
            gaps.append(d)
            gaps_asr.append(round(d + asr_s, 3))
        rows.append({**row, "ref": ref, "hyp": hyp, "turns": len(by_line[ln.index]), "cut_in": c, "pauses": p,
                     "errors": e, "dead_air": d, "asr_s": round(asr_s, 3),
                     "windows": [t.window for t in by_line[ln.index]]})
    premature = outcome in BOT_ENDED and not (not spec.expect.handoff and need_met(spec, steps))
    if cut and not why:
        why = "cut in"
    elif cut:
        why += "; cut in"
    return CallScore(
        id=spec.id, split=spec.split, intent=spec.intent, voice=spec.voice.id, noise=spec.noise is not None,
        pauses=spec.with_pauses, keypad=spec.keypad, outcome=outcome, routed_right=right, first_intent=first,
        first_intent_right=first == spec.expect.first_intent, premature_end=premature, cut_ins=cut,
        cut_ins_paused=cut_paused, paused_lines=paused, spoken_lines=spoken, word_errors=errors,
        ref_words=ref_words, dead_air=gaps, dead_air_asr=gaps_asr,
        second_readings=sum("base" in t.window for t in turns), turns_heard=len(turns),
        reason=(decision or {}).get("reason"), why=why, tags=spec.tags,
        lines=rows,
    )


def _pct(k: int, n: int) -> float | None:
    return round(100 * k / n, 1) if n else None


def aggregate(scores: list[CallScore]) -> dict:
    """The figures for a group of calls."""
    n = len(scores)
    gaps = [g for s in scores for g in s.dead_air]
    gaps_asr = [g for s in scores for g in s.dead_air_asr]
    paused = sum(s.paused_lines for s in scores)
    return {
        "calls": n,
        "routed_right_pct": _pct(sum(s.routed_right for s in scores), n),
        "first_intent_pct": _pct(sum(s.first_intent_right for s in scores), n),
        "cut_ins_paused": sum(s.cut_ins_paused for s in scores),
        "paused_lines": paused,
        "cut_ins_all": sum(s.cut_ins for s in scores),
        "spoken_lines": sum(s.spoken_lines for s in scores),
        "premature_ends": sum(s.premature_end for s in scores),
        "wer_pct": _pct(sum(s.word_errors for s in scores), sum(s.ref_words for s in scores)),
        "dead_air_mean_s": round(sum(gaps) / len(gaps), 3) if gaps else None,
        "dead_air_p50_s": _percentile(gaps, 50),
        "dead_air_p95_s": _percentile(gaps, 95),
        "dead_air_asr_p50_s": _percentile(gaps_asr, 50),  # plus each line's ASR wall time
        "dead_air_asr_p95_s": _percentile(gaps_asr, 95),
        "second_readings": sum(s.second_readings for s in scores),
        "turns_heard": sum(s.turns_heard for s in scores),
    }


def _percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    import numpy as np

    return round(float(np.percentile(xs, q)), 3)


CATEGORIES = {
    "intent": lambda s: s.intent,
    "voice": lambda s: s.voice,
    "noise": lambda s: "noise" if s.noise else "no noise",
    "pauses": lambda s: "with pauses" if s.pauses else "without pauses",
    "keypad": lambda s: "keypad" if s.keypad else "voice",
}


def by_category(scores: list[CallScore]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for name, key in CATEGORIES.items():
        groups: dict[str, list[CallScore]] = {}
        for s in scores:
            groups.setdefault(key(s), []).append(s)
        out[name] = {k: aggregate(v) for k, v in sorted(groups.items())}
    return out
