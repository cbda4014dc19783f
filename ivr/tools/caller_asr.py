"""Each caller line read by Whisper tiny.en and by Whisper base, with Whisper's confidence in each.

`python -m ivr.tools.caller_asr [--split tune]`: the measurement behind `voice.second_reading`'s
gate (which turns base reads again) and its choice (which reading is kept). Every line of the
chosen split is rendered as the call harness renders it (voice, noise, telephone band, G.711)
and read whole, outside the call, so no end-of-turn decision colours the figures. Prints WER by
voice for tiny, base and the gated combination, the share of lines the gate sends to base, and
writes every reading (text, avg_logprob, no_speech, compression) to JSON. Run it on `tune`
only while choosing: `heldout` is for the report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = ROOT / "bench-results" / "caller_asr.json"
DEFAULT_BASE = ROOT / "var" / "models" / "whisper-base"


def line_audio(renderer, spec, key: str, text: str, babble) -> np.ndarray:
    """The line at 16 kHz as the pipeline gets it: noise (under the line), G.711, resampled."""
    from ivr.tools.caller_audio import NoiseSource
    from telephony import g711
    from voice.audio import PIPELINE_RATE, TELEPHONE_RATE, resample

    x = renderer.line(spec.voice, key, text).pcm8k.astype(float)
    if spec.noise is not None:
        noise = NoiseSource(spec.noise, zlib.crc32((spec.id + key).encode()), babble() if spec.noise.kind == "babble" else None)
        x = x + noise.take(len(x))
    pcm = g711.ulaw_decode(g711.ulaw_encode(np.clip(np.round(x), -32768, 32767).astype(np.int16)))
    return resample(pcm, TELEPHONE_RATE, PIPELINE_RATE)


def run(args) -> int:
    from ivr.engine import quiet_libraries
    from ivr.tools.caller_audio import DEFAULT_CACHE, Renderer
    from ivr.tools.caller_metrics import word_errors
    from ivr.tools.caller_script import load_set, parse_line, plain_text
    from voice.asr_prompts import prompt_for
    from voice.audio import PIPELINE_RATE, int16_to_float
    from voice.models import ModelConfig, SpeechModels
    from voice.second_reading import Heard, keep_second, unsure

    quiet_libraries()
    base_path = Path(args.base)
    if not (base_path / "model.bin").is_file():
        print(f"caller_asr: no Whisper base in {base_path} (make models)", file=sys.stderr)
        return 2
    specs = load_set().split(args.split)
    models = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1, second_path=str(base_path)))
    renderer = Renderer(models, DEFAULT_CACHE)
    babble_cache: list = []

    def babble():
        if not babble_cache:
            babble_cache.append(renderer.babble())
        return babble_cache[0]

    tiny_only = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))
    tiny_only._whisper = models.whisper  # the same tiny.en, without the second reading
    rows = []
    for spec in specs:
        for key, text in spec.lines().items():
            pcm = line_audio(renderer, spec, key, text, babble)
            seconds = len(pcm) / PIPELINE_RATE
            ref = plain_text(parse_line(text))
            t0 = time.perf_counter()
            t = tiny_only.transcribe_sync(pcm, prompt=prompt_for(None))
            t_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            b = models._decode(models._encode_fitted(int16_to_float(pcm), models.config.fit_min_s, models.second_whisper),
                               seconds, prompt_for(None), model=models.second_whisper)
            b_s = time.perf_counter() - t0
            first = Heard(t.text, t.avg_logprob, t.no_speech_prob, t.compression_ratio, seconds)
            second = Heard(b.text, b.avg_logprob, b.no_speech_prob, b.compression_ratio, seconds)
            why = unsure(first)
            kept = b.text if why and keep_second(first, second) else t.text
            rows.append({"caller": spec.id, "voice": spec.voice.id, "noise": spec.noise is not None, "key": key,
                         "ref": ref, "audio_s": round(seconds, 2),
                         "tiny": {"text": t.text, "avg_logprob": round(t.avg_logprob, 3),
                                  "no_speech": round(t.no_speech_prob, 3), "compression": round(t.compression_ratio, 2),
                                  "errors": word_errors(ref, t.text)[0], "s": round(t_s, 3)},
                         "base": {"text": b.text, "avg_logprob": round(b.avg_logprob, 3),
                                  "no_speech": round(b.no_speech_prob, 3), "compression": round(b.compression_ratio, 2),
                                  "errors": word_errors(ref, b.text)[0], "s": round(b_s, 3)},
                         "unsure": why, "kept_errors": word_errors(ref, kept)[0], "words": word_errors(ref, ref)[1]})
            r = rows[-1]
            print(f"{spec.id:22s} {key:8s} t{r['tiny']['avg_logprob']:6.2f} e{r['tiny']['errors']} "
                  f"b{r['base']['avg_logprob']:6.2f} e{r['base']['errors']} {why or '-':10s} | {ref[:40]!r} "
                  f"| {t.text[:40]!r} | {b.text[:40]!r}", file=sys.stderr, flush=True)
    by: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by[r["voice"]].append(r)
        by["all"].append(r)

    def pct(rs, k):
        w = sum(r["words"] for r in rs)
        return round(100 * sum((r[k]["errors"] if k in ("tiny", "base") else r[k]) for r in rs) / max(w, 1), 1)

    summary = {}
    print(f"{'voice':14s} {'lines':>5s} {'tiny WER':>8s} {'base WER':>8s} {'gated':>8s} {'to base':>7s}")
    for v, rs in sorted(by.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        summary[v] = {"lines": len(rs), "tiny_wer": pct(rs, "tiny"), "base_wer": pct(rs, "base"),
                      "gated_wer": pct(rs, "kept_errors"), "to_base": sum(bool(r["unsure"]) for r in rs)}
        s = summary[v]
        print(f"{v:14s} {s['lines']:5d} {s['tiny_wer']:7.1f}% {s['base_wer']:7.1f}% {s['gated_wer']:7.1f}% "
              f"{s['to_base']:4d}/{s['lines']}")
    out = Path(args.json_out or DEFAULT_JSON)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"split": args.split, "summary": summary, "lines": rows}, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ivr.tools.caller_asr", description=__doc__.splitlines()[0])
    p.add_argument("--split", choices=["tune", "heldout", "all"], default="tune")
    p.add_argument("--base", default=str(DEFAULT_BASE), help="Whisper base folder (default var/models/whisper-base)")
    p.add_argument("--json", dest="json_out")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
