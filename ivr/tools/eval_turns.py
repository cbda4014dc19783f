"""`ivr eval turns`: end-of-turn detection judged the way LiveKit's eot-bench judges it.

Every turn of `ivr.tools.turn_corpus` goes through the service's own TurnDetector (webrtcvad, 20 ms
frames). At each pause it reports (`pause_ms` of silence), the evidence a live call would have
is computed once: Whisper's transcript of the turn so far, the way the service reads it (with the
digit prompt when a number is expected), and Smart Turn v3.2's P(complete) for the audio. Each
detector configuration is then a rule from that evidence to the silence at which the turn
ends, so configurations are compared on exactly the same readings:

- a **false cut-off**: a pause inside a turn (the speaker went on) that lasted longer than the
  rule's silence; reported per turn with pauses (was it cut anywhere) and per pause;
- **dead air**: after a turn's real end, the silence until the end of turn is declared: the
  rule's silence, or the pause plus the time the evidence took to compute when that is longer
  (so it moves with the machine's load); the rule's **wait** alone is reported beside it.

A turn cut off early has no real end to measure. Silence-only rows also report the silence at
which 5 % and 10 % of turns are cut (eot-bench's "delay at x % cut-offs").
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from calls.expectation import Expectation
from voice.audio import FRAME_MS, PIPELINE_RATE, frames
from voice.asr_prompts import HESITANT, NUMBER, prompt_for
from voice.endpointing import EndOfTurnRule, TurnEvidence
from voice.turns import TurnConfig, TurnDetector, TurnPaused, TurnResumed

PAUSE_MS = TurnConfig.pause_ms
# Published rows (eot-bench, English, real human-to-agent turns), quoted beside ours.
PUBLISHED = [
    {"detector": "silence-only VAD (eot-bench)", "false_cutoffs_at_300ms": 55.6, "delay_at_10pct_ms": 1000},
    {"detector": "Smart Turn v3.2 (eot-bench)", "false_cutoffs_at_300ms": 35.2, "delay_at_10pct_ms": 739},
    {"detector": "LiveKit turn detector v1 (eot-bench)", "false_cutoffs_at_300ms": 9.9, "delay_at_10pct_ms": 295},
]


@dataclass
class Pause:
    """One pause turn-taking reported, with the evidence a live call would have had at it."""

    end: float  # media seconds: end of the last voiced frame before the pause
    length_ms: float | None  # silence until speech resumed; None: the turn's real end
    texts: dict[str, str] = field(default_factory=dict)  # transcript by Whisper prompt (PROMPTS)
    smart_turn: dict[int, float] = field(default_factory=dict)  # P(complete) by the silence (ms) it was asked at
    asr_ms: float = 0.0
    smart_turn_ms: float = 0.0
    # Whisper's P(sentence-final mark), P(end of text after it) for the service prompt's transcript
    # (voice.end_reading); None: no words to judge
    whisper_end: tuple[float, float] | None = None
    understood: bool | None = None  # the NLU found a request in the service's transcript (see mark_understood)
    avg_logprob: float | None = None  # Whisper's mean log-probability a token of the service prompt's reading
    # Whisper's P(stop) read again at each of LATE_AT_MS of silence; only for pauses the service's
    # rule doubts, and only at silences the pause reached
    late_stop: dict[int, float | None] = field(default_factory=dict)


@dataclass
class TurnResult:
    id: str
    split: str
    voice: str
    source: str
    expecting: Expectation | None
    said: str = ""  # the script, pauses marked
    pauses: list[Pause] = field(default_factory=list)
    inserted: list[tuple[float, float]] = field(default_factory=list)  # the script's pauses (start, end), seconds

    def mid_sentence(self, p: Pause) -> bool:
        """Was the speaker mid-sentence at this pause? After a script segment that ends a sentence
        ("Balance. | Please.") any detector that answers finished sentences answers it; the cut
        that acts on half a sentence is the other kind. A recorded turn's stretched gap is between
        two words of one sentence; a pause the script did not put there (a comma's gap) is judged
        by the script segment it falls in, i.e. mid-sentence."""
        from ivr.tools.turn_corpus import script_segments

        segs = script_segments(self.said)
        for k, (start, _end) in enumerate(self.inserted):
            if abs(start - p.end) < 0.35 and k < len(segs):
                return segs[k].rstrip()[-1:] not in ".?!"
        return True

    @property
    def inner(self) -> list[Pause]:
        return [p for p in self.pauses if p.length_ms is not None]

    @property
    def final(self) -> Pause | None:
        return next((p for p in self.pauses if p.length_ms is None), None)


SMART_TURN_AT_MS = (140, 240, 300, 360)  # silences at which Smart Turn is asked (its audio ends there)
LATE_AT_MS = (500, 700, 900)  # silences at which a doubted turn's stop may be read again


def find_pauses(audio: np.ndarray, pause_ms: int = PAUSE_MS) -> list[tuple[TurnPaused, float | None]]:
    """The pauses TurnDetector reports over a turn, each with how long it lasted (None: to the end).

    Only the first turn of the recording counts (the corpus holds one turn per recording)."""
    det = TurnDetector(TurnConfig(pause_ms=pause_ms, silence_ms=60_000, no_input_ms=0))
    out: list[tuple[TurnPaused, float | None]] = []
    open_pause: TurnPaused | None = None
    end_of_audio = len(audio) / PIPELINE_RATE
    for i, f in enumerate(frames(audio, PIPELINE_RATE)):
        t = i * FRAME_MS / 1000
        for ev in det.feed(f, t):
            if isinstance(ev, TurnPaused):
                open_pause = ev
            elif isinstance(ev, TurnResumed) and open_pause is not None and t < end_of_audio - 0.1:
                out.append((open_pause, round((t - open_pause.end) * 1000, 1)))
                open_pause = None  # (a "resumption" in the last 100 ms is the filters' edge, not speech)
    if open_pause is not None:
        out.append((open_pause, None))
    return out


# -- detector configurations: evidence at a pause -> silence (ms) that ends the turn -------------
Rule = Callable[[Pause, Expectation | None], float]
PROMPTS = {"plain": None, "hesitant": HESITANT, "number": NUMBER}


def service_prompt(e: Expectation | None) -> str:
    return next(k for k, v in PROMPTS.items() if v == prompt_for(e))


def prompts_needed(e: Expectation | None) -> list[str]:
    return ["plain", "hesitant"] + (["number"] if e is not None and e.digits else [])


def silence_only(ms: int) -> Rule:
    return lambda p, e: ms


def transcript_rule(rule: EndOfTurnRule, *, smart_turn_at: int | None, expectation: bool, prompt: str = "service",
                    stop: str = "mark") -> Rule:
    """`prompt`: which transcript the rule reads ("plain", "hesitant", "numbers": the number prompt
    when a number is expected, or "service": the one the service would have asked for). `stop`:
    what of Whisper's end reading the rule gets, P(stop) ("mark", the service) or P(stop) x
    P(end of text after it) ("product")."""
    def decide(p: Pause, e: Expectation | None) -> float:
        if prompt == "numbers":
            text = p.texts["number" if e is not None and e.digits else "hesitant"]
        else:
            text = p.texts[service_prompt(e) if prompt == "service" else prompt]
        st = p.smart_turn.get(smart_turn_at) if smart_turn_at else None
        fin = None
        if p.whisper_end is not None:
            fin = p.whisper_end[0] if stop == "mark" else p.whisper_end[0] * p.whisper_end[1]
        return rule.silence_ms(TurnEvidence(text, st, e if expectation else None, whisper_stop=fin,
                                            avg_logprob=p.avg_logprob, understood=p.understood if e is None else None))

    return decide


def smart_turn_only(threshold: float = 0.5, at_ms: int = 240, fallback_ms: int = 3000) -> Rule:
    """pipecat's use of Smart Turn: after ~200 ms of VAD silence ask the model; complete ends the
    turn, incomplete waits for the fallback timeout."""
    def decide(p: Pause, e: Expectation | None) -> float:
        prob = p.smart_turn.get(at_ms)
        return fallback_ms if prob is None or prob < threshold else at_ms

    return decide


NEVER = float("-inf")
LEGACY = EndOfTurnRule(unfinished_ms=800, pending_ms=800, stop_threshold=0.0, unsure_logprob=NEVER)  # the rules before issue 16


@dataclass(frozen=True)
class Detector:
    name: str
    rule: Rule
    asr: bool = False  # waits for Whisper at the pause
    smart_turn_at: int | None = None  # asks Smart Turn at this silence (ms)


def configurations(shipped: EndOfTurnRule, smart_turn_at: int = 300) -> list[Detector]:
    """The detectors compared; the last row is the service's configuration."""
    st = smart_turn_at
    without_stop_p = replace(shipped, stop_threshold=0.0, unsure_logprob=NEVER)  # issue 16's rules before voice.end_reading
    stop_p_only = replace(shipped, unsure_logprob=NEVER)  # the third round's service
    return [
        Detector("silence 300 ms (VAD only)", silence_only(300)),
        Detector("silence 600 ms (VAD only)", silence_only(600)),
        Detector("silence 800 ms (VAD only)", silence_only(800)),
        Detector("Smart Turn v3.2 alone (at 240 ms, 3 s fallback)", smart_turn_only(), smart_turn_at=240),
        Detector("transcript, issue 7 waits (400/600/800 ms)", transcript_rule(LEGACY, smart_turn_at=None, expectation=False, prompt="plain"), True),
        Detector("transcript + longer waits", transcript_rule(without_stop_p, smart_turn_at=None, expectation=False, prompt="plain"), True),
        Detector("transcript + Smart Turn", transcript_rule(without_stop_p, smart_turn_at=st, expectation=False, prompt="plain"), True, st),
        Detector("transcript + expectation", transcript_rule(without_stop_p, smart_turn_at=None, expectation=True, prompt="plain"), True),
        Detector("transcript + expectation + hesitation & number prompts", transcript_rule(without_stop_p, smart_turn_at=None, expectation=True, prompt="numbers"), True),
        Detector("transcript + expectation + hesitation prompt + Smart Turn",
                 transcript_rule(without_stop_p, smart_turn_at=st, expectation=True), True, st),
        Detector("transcript + expectation + hesitation prompt", transcript_rule(without_stop_p, smart_turn_at=None, expectation=True), True),
        Detector("the same + Whisper's P(stop) x P(end) < 0.5",
                 transcript_rule(replace(stop_p_only, stop_threshold=0.5), smart_turn_at=None, expectation=True, stop="product"), True),
        Detector("the same + Whisper's P(stop)", transcript_rule(stop_p_only, smart_turn_at=None, expectation=True), True),
        Detector("the same + Whisper's P(stop) < 0.8 + unsure words (measured, not shipped)",
                 transcript_rule(replace(shipped, stop_threshold=0.8), smart_turn_at=None, expectation=True), True),
        Detector("the same + Whisper's P(stop) against the words' certainty (k 0.5, 0.8; not shipped)",
                 transcript_rule(replace(shipped, stop_relative_k=0.5, stop_threshold=0.8), smart_turn_at=None, expectation=True), True),
        Detector("the same + Whisper's P(stop) + unsure words + Smart Turn", transcript_rule(shipped, smart_turn_at=st, expectation=True), True, st),
        Detector("the same + Whisper's P(stop) + unsure words + the NLU's doubt (off)",
                 transcript_rule(replace(shipped, doubt_not_understood=True), smart_turn_at=None, expectation=True), True),
        Detector("the same + Whisper's P(stop) + unsure words (service)", transcript_rule(shipped, smart_turn_at=None, expectation=True), True),
    ]


def score(results: list[TurnResult], det: Detector) -> dict:
    """False cut-offs and dead air for one rule over the turns given."""
    with_pauses = [r for r in results if r.inner]
    cut_turns = 0
    cut_pauses = 0
    inner = 0
    dead: list[float] = []
    decided: list[float] = []  # the rule's wait alone: what a machine fast enough would give
    cut_ids: list[str] = []
    mid_cut = 0  # turns cut at a pause mid-sentence (acting on half a sentence)
    for r in results:
        cut = cut_mid = False
        for p in r.inner:
            inner += 1
            wait = det.rule(p, r.expecting)
            if wait < p.length_ms:
                cut_pauses += 1
                cut = True
                cut_mid = cut_mid or r.mid_sentence(p)
        mid_cut += cut_mid
        if cut:
            cut_turns += 1
            cut_ids.append(r.id)
            continue
        f = r.final
        if f is not None:
            ready = max(PAUSE_MS + f.asr_ms if det.asr else 0.0,
                        det.smart_turn_at + f.smart_turn_ms if det.smart_turn_at else 0.0)
            dead.append(max(det.rule(f, r.expecting), ready))
            decided.append(det.rule(f, r.expecting))
    return {
        "turns": len(results),
        "turns_with_pauses": len(with_pauses),
        "pauses_inside_turns": inner,
        "false_cutoff_turns_pct": _pct(cut_turns, len(with_pauses)),
        "false_cutoff_pauses_pct": _pct(cut_pauses, inner),
        "mid_sentence_cutoff_turns_pct": _pct(mid_cut, len(with_pauses)),
        "dead_air_ms": {"p50": _q(dead, 50), "p95": _q(dead, 95), "n": len(dead)},
        "decided_wait_ms": {"p50": _q(decided, 50), "p95": _q(decided, 95)},
        # real ends answered at the 400 ms floor: what a doubt costs, beside what it saves
        "at_floor_pct": _pct(sum(w <= EndOfTurnRule.complete_ms for w in decided), len(decided)),
        "cut_turns": cut_ids,
    }


def delay_at_cutoff(results: list[TurnResult], pct: float) -> float | None:
    """The silence-only threshold (20 ms steps) at which at most `pct` % of turns with pauses are cut."""
    longest = [max(p.length_ms for p in r.inner) for r in results if r.inner]
    if not longest:
        return None
    for ms in range(20, 5001, 20):
        if 100.0 * sum(x > ms for x in longest) / len(longest) <= pct:
            return float(ms)
    return None


def late_summary(results: list[TurnResult], sure: float = 0.8) -> dict:
    """Whisper's P(stop) at doubted pauses, at the pause and read again at each of LATE_AT_MS:
    did the silence grown after the last word make it surer of real ends than of pauses inside
    turns? Medians and the share at or above `sure`, for real ends and for pauses inside turns."""
    out = {}
    for kind, pick in (("real ends", lambda p: p.length_ms is None), ("inside turns", lambda p: p.length_ms is not None)):
        ps = [p for r in results for p in r.pauses if p.late_stop and pick(p)]
        row = {"n": len(ps), "at_pause": _median([p.whisper_end[0] for p in ps if p.whisper_end])}
        for at in LATE_AT_MS:
            v = [p.late_stop[at] for p in ps if p.late_stop.get(at) is not None]
            row[f"{at}ms"] = {"median": _median(v), "sure_pct": _pct(sum(x >= sure for x in v), len(v)), "n": len(v)}
        out[kind] = row
    return out


def _median(x: list[float]) -> float | None:
    return round(float(np.median(x)), 3) if x else None


def digits_of(text: str) -> str:
    from nlu.spoken_numbers import digit_runs

    return "".join(r.digits for r in digit_runs(text.replace("|", " ")))


def digits_heard(results: list[TurnResult]) -> dict:
    """Of the turns answering a request for a number with one, how often the transcript at the
    turn's real end holds exactly the digits said, by Whisper prompt."""
    out = {}
    rs = [r for r in results if r.expecting is not None and r.expecting.digits and digits_of(r.said) and r.final]
    for name in ("plain", "hesitant", "number"):
        right = [digits_of(r.final.texts.get(name, "")) == digits_of(r.said) for r in rs]
        out[name] = {"right_pct": _pct(sum(right), len(right)), "n": len(right)}
    out["wrong_with_number_prompt"] = [{"id": r.id, "said": r.said, "heard": r.final.texts.get("number")}
                                       for r in rs if digits_of(r.final.texts.get("number", "")) != digits_of(r.said)]
    return out


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 1) if b else None


def _q(x: list[float], q: float) -> float | None:
    return round(float(np.percentile(x, q)), 1) if x else None


# -- computing the evidence (cached: Whisper on ~1,500 pauses takes minutes) -------------------
class EvidenceCache:
    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}

    def key(self, audio: np.ndarray, prompt: str | None) -> str:
        h = hashlib.sha1(audio.tobytes())
        h.update((prompt or "").encode())
        return h.hexdigest()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data))


def gather(turns, models, smart, cache: EvidenceCache, progress=print) -> list[TurnResult]:
    doubts = EndOfTurnRule()  # the service's: its doubted pauses are read again late (LATE_AT_MS)
    results = []
    t0 = time.monotonic()
    for k, turn in enumerate(turns):
        r = TurnResult(turn.id, turn.split, turn.voice, turn.source, turn.expecting, said=turn.text,
                       inserted=list(turn.pauses))
        for ev, length in find_pauses(turn.audio):
            p = Pause(end=ev.end, length_ms=length)
            for name in prompts_needed(turn.expecting):
                key = cache.key(ev.audio, PROMPTS[name])
                hit = cache.data.get(key)
                service = name == service_prompt(turn.expecting)
                if hit is None or (service and "lp" not in hit):  # (caches from before "lp": read again)
                    tr = models.transcribe_sync(ev.audio, prompt=PROMPTS[name])
                    hit = cache.data[key] = {"text": tr.text, "ms": round(tr.seconds * 1000, 1),
                                             "lp": round(tr.avg_logprob, 4)}
                p.texts[name] = hit["text"]
                if service:
                    p.asr_ms, p.avg_logprob = hit["ms"], hit["lp"]
            for at in SMART_TURN_AT_MS:
                if length is not None and length < at:
                    break  # the caller spoke again first: a live call could not have asked
                upto = turn.audio[: int((ev.end + at / 1000) * PIPELINE_RATE)]
                key = cache.key(upto, "smart-turn-v3.2")
                hit = cache.data.get(key)
                if hit is None:
                    s0 = time.perf_counter()
                    prob = smart.probability_sync(upto)
                    hit = cache.data[key] = {"p": round(prob, 4), "ms": round((time.perf_counter() - s0) * 1000, 1)}
                p.smart_turn[at], p.smart_turn_ms = hit["p"], hit["ms"]
            text = p.texts[service_prompt(turn.expecting)]
            key = cache.key(ev.audio, "end-reading:" + (PROMPTS[service_prompt(turn.expecting)] or "") + text)
            hit = cache.data.get(key)
            if hit is None:
                er = models.end_reading(ev.audio, text, PROMPTS[service_prompt(turn.expecting)])
                hit = cache.data[key] = {"end": None if er is None else [er.p_mark, er.p_end]}
            p.whisper_end = tuple(hit["end"]) if hit["end"] is not None else None
            late_reads(p, ev, length, turn, text, models, cache, doubts)
            r.pauses.append(p)
        results.append(r)
        if (k + 1) % 20 == 0 or k + 1 == len(turns):
            progress(f"evidence for {k + 1}/{len(turns)} turns ({time.monotonic() - t0:.0f} s)")
            cache.save()
    return results


def late_reads(p: Pause, ev: TurnPaused, length: float | None, turn, text: str, models, cache: EvidenceCache,
               doubts: EndOfTurnRule) -> None:
    """A doubted pause's stop read again at each silence of LATE_AT_MS it reached, on the turn's
    audio up to there: what a live re-read would hand Whisper, the silence so far included."""
    evidence = TurnEvidence(text, None, turn.expecting, whisper_stop=p.whisper_end[0] if p.whisper_end else None,
                            avg_logprob=p.avg_logprob)
    if not doubts.doubted(evidence):
        return
    prompt = PROMPTS[service_prompt(turn.expecting)]
    # ev.audio ends pause_ms after the last voiced frame; its start is the turn's pre-roll
    start = max(0, int(round((ev.end + PAUSE_MS / 1000) * PIPELINE_RATE)) - len(ev.audio))
    for at in LATE_AT_MS:
        if length is not None and length < at:
            break  # the caller spoke again first
        late = turn.audio[start: int((ev.end + at / 1000) * PIPELINE_RATE)]
        key = cache.key(late, "late-reading:" + (prompt or "") + text)
        hit = cache.data.get(key)
        if hit is None:
            er = models.end_reading(late, text, prompt)
            hit = cache.data[key] = {"p": None if er is None else er.p_mark}
        p.late_stop[at] = hit["p"]


def mark_understood(results: list[TurnResult], understanding) -> None:
    """Whether the NLU finds a request in each pause's transcript, where nothing in particular was
    asked for and the transcript reads finished (the only case `EndOfTurnRule` asks about)."""
    from voice.endpointing import transcript_complete

    seen: dict[str, bool] = {}
    for r in results:
        for p in r.pauses:
            text = p.texts[service_prompt(r.expecting)]
            if r.expecting is None and transcript_complete(text):
                if text not in seen:
                    seen[text] = understanding.analyse(text).intent.intent != "out_of_scope"
                p.understood = seen[text]


def report(results: list[TurnResult], shipped: EndOfTurnRule) -> dict:
    out: dict = {"splits": {}}
    for split in ("tune", "heldout", "fresh"):
        rs = [r for r in results if r.split == split]
        if not rs:
            continue
        rows = []
        for det in configurations(shipped):
            row = {"detector": det.name, **score(rs, det)}
            if det.name.startswith("silence 300"):
                row["delay_at_5pct_ms"] = delay_at_cutoff(rs, 5.0)
                row["delay_at_10pct_ms"] = delay_at_cutoff(rs, 10.0)
            rows.append(row)
        by_kind = {}
        service = configurations(shipped)[-1]
        for label, pick in (("synthesized", lambda r: r.source == "synth"), ("recorded", lambda r: r.source == "real"),
                            ("a number expected", lambda r: r.expecting is not None and r.expecting.digits)):
            sub = [r for r in rs if pick(r)]
            if sub:
                by_kind[label] = score(sub, service)
        out["splits"][split] = {"rows": rows, "service_by_kind": by_kind, "digits_heard": digits_heard(rs),
                                "late_reading": late_summary(rs)}
    st_ms = [p.smart_turn_ms for r in results for p in r.pauses]
    asr_ms = [p.asr_ms for r in results for p in r.pauses]
    out["compute_ms"] = {"smart_turn": {"p50": _q(st_ms, 50), "p95": _q(st_ms, 95)},
                         "asr": {"p50": _q(asr_ms, 50), "p95": _q(asr_ms, 95)}}
    out["published"] = PUBLISHED
    return out


def print_table(rep: dict, file=sys.stdout) -> None:
    for split, body in rep["splits"].items():
        print(f"\n{split}: {body['rows'][0]['turns']} turns, {body['rows'][0]['turns_with_pauses']} with pauses inside "
              f"({body['rows'][0]['pauses_inside_turns']} pauses)", file=file)
        print(f"  {'detector':70} {'cut turns':>9} {'mid-sent.':>9} {'cut pauses':>10} {'dead p50':>8} {'dead p95':>8} {'wait p50':>8} {'wait p95':>8}"
              f" {'at floor':>8}", file=file)
        for row in body["rows"]:
            d, w = row["dead_air_ms"], row["decided_wait_ms"]
            print(f"  {row['detector']:70} {row['false_cutoff_turns_pct']:>8}% {row['mid_sentence_cutoff_turns_pct']:>8}% {row['false_cutoff_pauses_pct']:>9}% "
                  f"{d['p50']!s:>8} {d['p95']!s:>8} {w['p50']!s:>8} {w['p95']!s:>8} {row['at_floor_pct']!s:>7}%", file=file)
            if "delay_at_5pct_ms" in row:
                print(f"  {'  (VAD only: silence for 5 % / 10 % cut turns)':70} {row['delay_at_5pct_ms']!s:>9} "
                      f"{row['delay_at_10pct_ms']!s:>10}", file=file)
        dh = body["digits_heard"]
        print("  digits heard right at the end of a number answer: " +
              ", ".join(f"{k} prompt {v['right_pct']}% of {v['n']}" for k, v in dh.items() if isinstance(v, dict)), file=file)
        for kind, row in body.get("late_reading", {}).items():
            late = ", ".join(f"{at} {row[f'{at}ms']['median']} ({row[f'{at}ms']['sure_pct']}% >= 0.8)" for at in LATE_AT_MS)
            print(f"  doubted {kind} ({row['n']}): P(stop) median at the pause {row['at_pause']}, read again at ms: {late}", file=file)
    print(f"\ncompute per pause, p50/p95 ms: Whisper {rep['compute_ms']['asr']}, Smart Turn {rep['compute_ms']['smart_turn']}", file=file)


def run(args) -> int:
    from ivr.tools import turn_corpus
    from voice.smart_turn import SmartTurn

    setup = turn_corpus.eval_setup(args)
    models, splits, cache_dir, say = setup.models, setup.splits, setup.cache_dir, setup.say
    real = cache_dir if (cache_dir / "asr" / "clips.json").is_file() else None
    if real is None:
        say(f"no recorded speech in {cache_dir}/asr (scripts/fetch_eval_data.sh asr): synthesized turns only")
    turns = turn_corpus.build(models, real, splits, progress=say)
    if args.limit:
        turns = turns[: args.limit]
    say(f"{len(turns)} turns ({sum(t.split == 'tune' for t in turns)} tune, {sum(t.split == 'heldout' for t in turns)} held out)")
    evidence = EvidenceCache(cache_dir / "turns" / "evidence.json")
    results = gather(turns, models, SmartTurn(), evidence, progress=say)
    from nlu.understanding import Understanding

    mark_understood(results, Understanding())
    rep = report(results, EndOfTurnRule())
    rep["machine"] = f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, {platform.python_implementation()} {platform.python_version()}"
    rep["turns"] = [{"id": r.id, "split": r.split, "voice": r.voice,
                     "pauses": [{"length_ms": p.length_ms, "texts": p.texts, "smart_turn": p.smart_turn} for p in r.pauses]}
                    for r in results]
    print_table(rep)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=2) + "\n")
    say(f"wrote {out}")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--split", choices=("tune", "heldout", "fresh", "all"), default="all")
    p.add_argument("--limit", type=int, default=0, help="only the first N turns (a quick look)")
    p.add_argument("--cache", default=None, help="evaluation cache folder (default cache/eval)")
    p.add_argument("--json", dest="json_out", default="bench-results/eval_turns.json")
