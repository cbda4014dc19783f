"""A corpus of caller turns with pauses inside them, for judging end-of-turn detection.

LiveKit's eot-bench measures a turn detector on real human turns: how often it ends a turn at a
pause the speaker was about to go on from (a false cut-off), and how long it leaves after a turn
that really ended (dead air). Its data is on a model hub this machine cannot reach, so this is
the same method on turns made here:

- synthesized callers: scripts written for it, each segment said by one of several voices (the
  Piper voice at three rates and with its formants moved, espeak-ng's English variants), with
  silences of a second or so where people hesitate (after a filler, mid-clause, between groups
  of digits, mid e-mail address), some with line noise; what the bot had just asked is part of
  the script, as it would be part of the call;
- recorded speech (LibriVox, CMU ARCTIC, spoken card names, a two-speaker phone call, from
  `scripts/fetch_eval_data.sh asr`), each said as it is and once with a gap between its words
  stretched to a hesitation.

Everything is put through the telephone band (300-3400 Hz, 8 kHz, G.711 µ-law) and back to
16 kHz, as a caller reaches turn-taking. The split is fixed by the data, not drawn: `tune` is
the first script set said by the tune voices; `heldout` is a second script set, written apart
(other words, other situations), said by the tune voices and by three voices heard nowhere else,
plus the recorded speech of speakers not used in tuning. Decisions are made on `tune`; the
README reports `heldout`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calls.expectation import Expectation
from voice.audio import PIPELINE_RATE, Audio, read_wav, resample, telephone_band

PAUSE = "|"  # in a script: the speaker stops here and goes on (a hesitation, a digit group)
EXPECT = {
    "order": Expectation("order_number", digits=(5,), keypad=True),
    "account": Expectation("account_id", digits=(8,), email=True, keypad=True),
    "pin": Expectation("pin_or_date", digits=(4,), date=True, keypad=True),
    "yes_no": Expectation("yes_no"),
}

# (what the bot had asked, the caller's turn). Internal pauses are `|`.
TUNE_SCRIPTS: list[tuple[str | None, str]] = [
    (None, "I want to move, uh, | my delivery to Friday."),
    (None, "I'd like to, um, | check on my order."),
    (None, "Can you tell me | when you open on Saturday?"),
    (None, "I was charged twice for | the same thing last month."),
    (None, "My internet keeps dropping and | nobody has fixed it."),
    (None, "I need to reset my password because | I forgot it."),
    (None, "Hi there. I'm calling about my balance."),
    (None, "I'd like to check the status of my order, please."),
    (None, "What are your opening hours?"),
    (None, "Oh great, another robot."),
    (None, "I'd like to speak to a person, please."),
    (None, "So, um, | the thing is, | my card was stolen yesterday."),
    (None, "Where is my, uh, | my parcel?"),
    (None, "I ordered a lamp and | it arrived broken."),
    (None, "I can't log in to my account. It keeps saying my password is wrong."),
    ("order", "Four five | six seven | eight."),
    ("order", "It's seven seven | two two two."),
    ("order", "One oh, | two three, | four."),
    ("order", "Yeah, it's | five five five | oh one."),
    ("order", "I don't have it with me."),
    ("account", "One two three four | five six seven eight."),
    ("account", "It's two three | four five | six seven | eight nine."),
    ("account", "Alice dot johnson | at example dot com."),
    ("pin", "Four three | two one."),
    ("pin", "One one | one one."),
    ("pin", "The fourth of July, | nineteen eighty five."),
    ("yes_no", "Yes."),
    ("yes_no", "Yes, that's right."),
    ("yes_no", "No, that's not it."),
    ("yes_no", "Um, | yes."),
    (None, "No, that's all. Thanks, bye."),
    (None, "Okay, thank you. Goodbye."),
    (None, "I think, | I think it was | last Tuesday."),
    (None, "My order number is, | hang on, | four five six seven eight."),
    (None, "Can I, uh, | pay my bill over the phone?"),
]
HELDOUT_SCRIPTS: list[tuple[str | None, str]] = [
    (None, "I need to change, erm, | the address for my delivery."),
    (None, "So I got an email saying | my parcel was delivered, but | it wasn't."),
    (None, "Do you, uh, | do you deliver on Sundays?"),
    (None, "Thanks for nothing. This is useless."),
    (None, "There's a charge on my statement that | I don't recognise."),
    (None, "I would like to, um, | cancel my subscription."),
    (None, "Could you put me through to someone?"),
    (None, "My password, | it just doesn't work any more."),
    (None, "Hello. How much do I owe on my account?"),
    (None, "I've been waiting for | two weeks now for a desk lamp."),
    (None, "Is there a store near | the central station?"),
    (None, "Someone has used my card, | I think."),
    (None, "I'm trying to, uh, | find out where my order is."),
    (None, "What's the, um, | the return policy?"),
    (None, "I'd like a refund for the shoes."),
    ("order", "Nine eight | seven six | five."),
    ("order", "Double seven, | two, two, two."),
    ("order", "Three one | four one | five."),
    ("order", "Um, | one zero two three four."),
    ("order", "Sorry, where do I find that?"),
    ("account", "Five six seven | eight nine | oh one two."),
    ("account", "Four five six seven, | eight nine oh one."),
    ("account", "Bob dot smith | at example | dot com."),
    ("pin", "Nine seven | five three."),
    ("pin", "Eight oh | eight oh."),
    ("pin", "The twelfth of May, | nineteen ninety."),
    ("yes_no", "Yep."),
    ("yes_no", "That's correct."),
    ("yes_no", "No."),
    ("yes_no", "Er, | no, it isn't."),
    (None, "That's everything, thank you. Bye bye."),
    (None, "Brilliant, thanks. Have a good day."),
    (None, "It was, | let me think, | about three days ago."),
    (None, "The account number is | six seven eight nine | oh one two three."),
    (None, "Can I, | can I speak to a real person?"),
]


@dataclass(frozen=True)
class VoiceSpec:
    name: str
    engine: str  # "piper" | "espeak"
    piper_scale: float = 1.0  # Piper length_scale (1.15 is slower)
    espeak_voice: str = "en-us"
    espeak_speed: int = 150
    sox: tuple[str, ...] = ()  # sox effects that move the formants: another speaker
    snr_db: float | None = None  # line noise


TUNE_VOICES = (
    VoiceSpec("piper", "piper"),
    VoiceSpec("piper-slow", "piper", piper_scale=1.2),
    VoiceSpec("piper-low", "piper", sox=("speed", "1.13", "pitch", "-212")),
    VoiceSpec("espeak-us", "espeak", espeak_voice="en-us", espeak_speed=150),
    VoiceSpec("espeak-gb-noisy", "espeak", espeak_voice="en-gb", espeak_speed=160, snr_db=20),
)
HELDOUT_ONLY_VOICES = (
    VoiceSpec("piper-high-fast", "piper", piper_scale=0.9, sox=("speed", "0.89", "pitch", "+202")),
    VoiceSpec("espeak-scotland", "espeak", espeak_voice="en-gb-scotland", espeak_speed=145),
    VoiceSpec("espeak-caribbean-noisy", "espeak", espeak_voice="en-029", espeak_speed=155, snr_db=18),
    VoiceSpec("espeak-us-f2", "espeak", espeak_voice="en-us+f2", espeak_speed=165),
)
# Recorded speech: speakers in tune / held out (by source, so no speaker is in both).
REAL_TUNE = ("pocketsphinx/cards/", "arctic/")
REAL_HELDOUT = ("pocketsphinx/librivox/", "pyannote/")


@dataclass
class CorpusTurn:
    id: str
    split: str  # tune | heldout
    voice: str
    source: str  # synth | real
    text: str  # what was said, pauses marked with |
    audio: np.ndarray = field(repr=False)  # int16, 16 kHz, telephone band, with 3 s of silence after
    speech_end: float  # seconds: end of the last word
    pauses: list[tuple[float, float]]  # inserted silences inside the turn (start, end), seconds
    expecting: Expectation | None = None
    noisy: bool = False


def script_segments(text: str) -> list[str]:
    """The segments a speaker says between pauses."""
    return [s.strip() for s in text.split(PAUSE) if s.strip()]


def pause_lengths(key: str, n: int, lo: float = 0.5, hi: float = 1.4) -> list[float]:
    """Deterministic hesitation lengths for one turn (hashing its id, not a global draw, so
    adding a script does not move every other pause)."""
    rng = np.random.default_rng(int(hashlib.sha1(key.encode()).hexdigest()[:8], 16))
    return [round(float(x), 2) for x in rng.uniform(lo, hi, n)]


def trim(x: np.ndarray, rate: int, floor_db: float = -45.0) -> np.ndarray:
    """Cut the synthesizer's own leading and trailing silence (10 ms windows under floor_db)."""
    hop = max(1, rate // 100)
    n = len(x) // hop
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1)) / 32768
    loud = np.flatnonzero(20 * np.log10(np.maximum(rms, 1e-9)) > floor_db)
    if len(loud) == 0:
        return x[:0]
    return x[loud[0] * hop : (loud[-1] + 1) * hop]


class Synth:
    """Says a segment in a voice at 16 kHz; Piper is loaded once."""

    def __init__(self, models=None):
        self._models = models
        self._tmp = Path(tempfile.mkdtemp(prefix="turns-"))

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def say(self, text: str, v: VoiceSpec) -> np.ndarray:
        if v.engine == "piper":
            from piper import SynthesisConfig

            chunks = self._models.voice.synthesize(text, SynthesisConfig(length_scale=v.piper_scale))
            pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in chunks])
            rate = self._models.tts_rate
        else:
            wav = self._tmp / "espeak.wav"
            subprocess.run(["espeak-ng", "-v", v.espeak_voice, "-s", str(v.espeak_speed), "-w", str(wav), text],
                           check=True, capture_output=True)
            a = read_wav(wav)
            pcm, rate = a.samples, a.rate
        if v.sox:
            src, dst = self._tmp / "in.wav", self._tmp / "out.wav"
            from voice.audio import write_wav

            write_wav(src, pcm, rate)
            subprocess.run(["sox", str(src), str(dst), *v.sox], check=True, capture_output=True)
            a = read_wav(dst)
            pcm, rate = a.samples, a.rate
        return trim(resample(pcm, rate, PIPELINE_RATE), PIPELINE_RATE)


def line(audio16k: np.ndarray, snr_db: float | None, seed: int) -> np.ndarray:
    """The phone line: optional noise, 300-3400 Hz, G.711 µ-law, back to 16 kHz."""
    x = audio16k.astype(np.float64)
    if snr_db is not None:
        speech = x[np.abs(x) > 0]
        power = np.mean(speech**2) if len(speech) else 1.0
        rng = np.random.default_rng(seed)
        white = rng.normal(0.0, 1.0, len(x))
        pink = np.cumsum(white) * 0.02  # red-ish rumble under the hiss, like a handset's line
        pink -= np.convolve(pink, np.ones(400) / 400, mode="same")
        noise = white + pink
        noise *= np.sqrt(power / 10 ** (snr_db / 10) / max(np.mean(noise**2), 1e-12))
        x = x + noise
    x = _band(x, PIPELINE_RATE)
    pcm = np.clip(x, -32768, 32767).astype(np.int16)
    return resample(telephone_band(Audio(pcm, PIPELINE_RATE)), 8000, PIPELINE_RATE)


def _band(x: np.ndarray, rate: int) -> np.ndarray:
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / rate)
    spec[(f < 300) | (f > 3400)] = 0
    return np.fft.irfft(spec, len(x))


LEAD_S = 0.3
TAIL_S = 3.0


def synth_turn(synth: Synth, tid: str, split: str, voice: VoiceSpec, asked: str | None, text: str) -> CorpusTurn:
    segs = script_segments(text)
    # A segment the speaker goes on from is said as such (a comma), not with a sentence's fall.
    spoken = [s if i == len(segs) - 1 or s[-1] in ",." else s + "," for i, s in enumerate(segs)]
    gaps = pause_lengths(tid, len(segs) - 1)
    parts = [np.zeros(int(LEAD_S * PIPELINE_RATE), dtype=np.int16)]
    pauses = []
    t = LEAD_S
    for i, s in enumerate(spoken):
        pcm = synth.say(s, voice)
        parts.append(pcm)
        t += len(pcm) / PIPELINE_RATE
        if i < len(gaps):
            pauses.append((round(t, 3), round(t + gaps[i], 3)))
            parts.append(np.zeros(int(gaps[i] * PIPELINE_RATE), dtype=np.int16))
            t += gaps[i]
    parts.append(np.zeros(int(TAIL_S * PIPELINE_RATE), dtype=np.int16))
    seed = int(hashlib.sha1(tid.encode()).hexdigest()[:8], 16)
    audio = line(np.concatenate(parts), voice.snr_db, seed)
    return CorpusTurn(tid, split, voice.name, "synth", text, audio, round(t, 3), pauses,
                      EXPECT.get(asked) if asked else None, voice.snr_db is not None)


def real_turns(cache: Path) -> list[CorpusTurn]:
    """Each recorded utterance as it is, and (where it has a gap between words) once more with
    its longest inner gap stretched to a hesitation."""
    listing = cache / "asr" / "clips.json"
    if not listing.is_file():
        raise FileNotFoundError(f"{listing} missing: run scripts/fetch_eval_data.sh asr")
    out: list[CorpusTurn] = []
    for c in json.loads(listing.read_text()):
        cid = c["id"]
        split = "tune" if cid.startswith(REAL_TUNE) else "heldout" if cid.startswith(REAL_HELDOUT) else None
        if split is None:
            continue
        a = read_wav(c["path"])
        if "start" in c:
            i0, i1 = int(max(0.0, c["start"] - 0.05) * a.rate), int((c["end"] + 0.05) * a.rate)
            a = Audio(a.samples[i0:i1], a.rate)
        speech = trim(resample(a.samples, a.rate, PIPELINE_RATE), PIPELINE_RATE, floor_db=-40)
        if len(speech) < PIPELINE_RATE // 4:
            continue
        for stretched in (False, True):
            pcm, pauses = speech, []
            if stretched:
                gap = _longest_gap(speech)
                if gap is None:
                    continue
                g0, g1 = gap
                length = pause_lengths(cid, 1)[0]
                pcm = np.concatenate([speech[:g0], np.zeros(int(length * PIPELINE_RATE), dtype=np.int16), speech[g1:]])
                pauses = [(round(LEAD_S + g0 / PIPELINE_RATE, 3), round(LEAD_S + g0 / PIPELINE_RATE + length, 3))]
            full = np.concatenate([np.zeros(int(LEAD_S * PIPELINE_RATE), dtype=np.int16), pcm,
                                   np.zeros(int(TAIL_S * PIPELINE_RATE), dtype=np.int16)])
            tid = f"real/{cid}" + ("/gap" if stretched else "")
            out.append(CorpusTurn(tid, split, cid.split("/")[0], "real", c.get("text", ""),
                                  line(full, None, 0), round(LEAD_S + len(pcm) / PIPELINE_RATE, 3), pauses))
    return out


def _longest_gap(pcm: np.ndarray, min_ms: int = 60) -> tuple[int, int] | None:
    """The longest quiet stretch between two words (20 ms windows 25 dB under the speech's
    median), not in the first or last 15 %: where a speaker could have stopped to think."""
    hop = PIPELINE_RATE // 50
    n = len(pcm) // hop
    if n < 10:
        return None
    db = 20 * np.log10(np.maximum(np.sqrt(np.mean(pcm[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1)), 1e-3))
    quiet = db < np.median(db) - 25
    best, run_start = None, None
    for i in range(int(n * 0.15), int(n * 0.85) + 1):
        if i < n and quiet[i]:
            run_start = i if run_start is None else run_start
        elif run_start is not None:
            if (i - run_start) * 20 >= min_ms and (best is None or i - run_start > best[1] - best[0]):
                best = (run_start, i)
            run_start = None
    return None if best is None else (best[0] * hop, best[1] * hop)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:32]


def build(models, cache: Path | None = None, splits: tuple[str, ...] = ("tune", "heldout"),
          progress=None) -> list[CorpusTurn]:
    """The whole corpus (or the named splits). `models` supplies the Piper voice."""
    synth = Synth(models)
    plan: list[tuple[str, str, VoiceSpec, str | None, str]] = []
    if "tune" in splits:
        for i, (asked, text) in enumerate(TUNE_SCRIPTS):
            for v in TUNE_VOICES:
                plan.append((f"tune/{i:02d}-{_slug(text)}/{v.name}", "tune", v, asked, text))
    if "heldout" in splits:
        for i, (asked, text) in enumerate(HELDOUT_SCRIPTS):
            # Every held-out script in two tune voices and in each voice heard nowhere else.
            for v in (TUNE_VOICES[0], TUNE_VOICES[3], *HELDOUT_ONLY_VOICES):
                plan.append((f"heldout/{i:02d}-{_slug(text)}/{v.name}", "heldout", v, asked, text))
    turns = []
    try:
        for k, (tid, split, v, asked, text) in enumerate(plan):
            turns.append(synth_turn(synth, tid, split, v, asked, text))
            if progress and (k + 1) % 25 == 0:
                progress(f"synthesized {k + 1}/{len(plan)} turns")
    finally:
        synth.close()
    if cache is not None:
        turns += [t for t in real_turns(cache) if t.split in splits]
    return turns
