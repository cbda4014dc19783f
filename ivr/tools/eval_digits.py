"""`ivr eval digits`: number answers read again with only digits allowed (voice.digit_reading).

The turns are `ivr eval turns`' synthesized ones that answer a request for a number (order,
account, PIN): the numbers themselves in groups, and the answers that are not numbers (an
e-mail address, a date of birth, "I don't have it with me.", "Sorry, where do I find that?").
Each turn's audio up to just after its last word is transcribed as the service does, then read
freely and digits-only from one encoder pass. For each margin the table gives how often the
digits at the end of a number answer are exactly the digits said, and how many answers that
were not numbers had their transcript replaced. The margin is chosen on the tune half; the
held-out half (other scripts, and voices heard nowhere in tuning) is the one to report.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice.asr_prompts import HESITANT
from voice.audio import PIPELINE_RATE
from voice.digit_reading import MARGIN, believe_digits, worth_reading_for_digits

MARGINS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, float("inf"))
AFTER_LAST_WORD_S = 0.5


@dataclass(frozen=True)
class Evidence:
    id: str
    split: str
    voice: str
    said: str
    expecting: object  # calls.expectation.Expectation
    heard: str  # the service's transcript today
    free_logprob: float
    digits_text: str
    digits_logprob: float


def digits_of(text: str) -> str:
    from nlu.spoken_numbers import digit_runs

    return "".join(r.digits for r in digit_runs(text.replace("|", " ")))


def final_text(e: Evidence, margin: float | None) -> str:
    """What the dialog would get: the transcript, or the digits-only reading where believed
    (margin None: never read again, as before)."""
    if margin is None or not worth_reading_for_digits(e.heard, e.expecting):
        return e.heard
    return believe_digits(e.free_logprob, e.digits_text, e.digits_logprob, e.expecting, margin) or e.heard


def score(evidence: list[Evidence], margin: float | None) -> dict:
    numbers = [e for e in evidence if digits_of(e.said)]
    others = [e for e in evidence if not digits_of(e.said)]
    right = sum(digits_of(final_text(e, margin)) == digits_of(e.said) for e in numbers)
    replaced = [e.id for e in others if final_text(e, margin) != e.heard]
    return {"margin": "inf" if margin == float("inf") else margin, "numbers": len(numbers), "digits_right": right,
            "digits_right_pct": round(100 * right / len(numbers), 1) if numbers else None,
            "other_answers": len(others), "others_replaced": len(replaced), "replaced": replaced}


def report(evidence: list[Evidence]) -> dict:
    out = {"shipped_margin": MARGIN, "splits": {}}
    for split in ("tune", "heldout"):
        ev = [e for e in evidence if e.split == split]
        if not ev:
            continue
        rows = [score(ev, None)] + [score(ev, m) for m in MARGINS]
        wrong = [{"id": e.id, "said": e.said, "heard": e.heard, "digits": e.digits_text,
                  "free_lp": round(e.free_logprob, 3), "digits_lp": round(e.digits_logprob, 3),
                  "now": final_text(e, MARGIN)}
                 for e in ev if digits_of(e.said) and digits_of(final_text(e, MARGIN)) != digits_of(e.said)]
        out["splits"][split] = {"rows": rows, "wrong_at_shipped_margin": wrong}
    return out


def print_table(rep: dict, file=sys.stdout) -> None:
    for split, body in rep["splits"].items():
        print(f"{split}: digits right at the end of a number answer / other answers replaced", file=file)
        for r in body["rows"]:
            m = "never read again" if r["margin"] is None else f"margin {r['margin']}"
            print(f"  {m:18s} {r['digits_right']:3d}/{r['numbers']:<3d} {r['digits_right_pct']:5.1f} %"
                  f"   replaced {r['others_replaced']}/{r['other_answers']}", file=file)


def gather(turns, models, cache_path: Path, progress=print) -> list[Evidence]:
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    out = []
    for k, t in enumerate(turns):
        audio = t.audio[: int((t.speech_end + AFTER_LAST_WORD_S) * PIPELINE_RATE)]
        key = hashlib.sha1(audio.tobytes()).hexdigest()
        hit = cache.get(key)
        if hit is None:
            heard = models.transcribe_sync(audio, prompt=HESITANT).text
            free, dig = models.read_for_digits(audio, HESITANT)
            hit = cache[key] = {"heard": heard, "free_lp": free.avg_logprob, "digits": dig.text, "digits_lp": dig.avg_logprob}
        out.append(Evidence(t.id, t.split, t.voice, t.text, t.expecting, hit["heard"], hit["free_lp"],
                            hit["digits"], hit["digits_lp"]))
        if (k + 1) % 20 == 0 or k + 1 == len(turns):
            progress(f"read {k + 1}/{len(turns)} number-answer turns")
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache))
    return out


def run(args) -> int:
    from ivr.tools import turn_corpus

    setup = turn_corpus.eval_setup(args)
    models, splits, cache_dir, say = setup.models, setup.splits, setup.cache_dir, setup.say
    turns = [t for t in turn_corpus.build(models, None, splits, progress=say)
             if t.expecting is not None and t.expecting.digits]
    say(f"{len(turns)} turns answering a request for a number")
    rep = report(gather(turns, models, cache_dir / "digits" / "readings.json", progress=say))
    print_table(rep)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=2, default=str) + "\n")
    say(f"wrote {out}")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--split", choices=("tune", "heldout", "all"), default="tune")
    p.add_argument("--cache", default=None, help="evaluation cache folder (default cache/eval)")
    p.add_argument("--json", dest="json_out", default="bench-results/eval_digits.json")
