"""Which of Whisper's readings of an utterance to keep, when the encoder saw a fitted window.

faster-whisper pads every utterance to Whisper's 30 s window, so the encoder costs ~450 ms here
even for one second of speech. `SpeechModels` encodes a shorter window instead (the utterance
plus silent padding, at least `ModelConfig.fit_min_s`). Short windows fail in two ways that
the full one rarely does, both more often the shorter the window (on 240 short synthesized
phrases through G.711, like `ivr eval asr --phrases`: repetitions in 25 / 19 / 10 readings at
8 / 10 / 15 s; the final full stop missing from 43 / 32 / 24):

- Whisper reads the padding as more speech and says the utterance again ("7 of clubs 7 of
  clubs"), or a word on and on;
- it leaves off the final full stop, and the full stop is what tells turn-taking that a turn
  reads as finished (`voice.endpointing`).

So a reading that looks degenerate, or that would read as finished but for its stop, is read
again in a longer window (`fit_retry_s`), which costs ~150 ms; only when that fails too is the
utterance redone in the full window (~500 ms). Pure functions here; the model runs in
`voice.models`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from voice.endpointing import transcript_complete, words
from voice.second_reading import UNSURE_LOGPROB, Heard, unsure
from voice.sentences import split_sentences

# A reading faster than this many words a second of audio is a runaway, however consistent.
MAX_WORDS_PER_S = 5.0
# Tokens a decode may write per second of audio, and on top: callers say ~3 words (~5 tokens) a
# second, so a reading that reaches the budget is a repetition loop, stopped there instead of at
# Whisper's 448 tokens (faster-whisper's default for its standard window).
TOKENS_PER_S = 12
TOKENS_EXTRA = 16
MAX_TOKENS = 220


def token_budget(audio_s: float) -> int:
    """The most tokens a reading of `audio_s` seconds may take (one 30 s window at most)."""
    return min(MAX_TOKENS, int(TOKENS_PER_S * min(audio_s, 30.0)) + TOKENS_EXTRA)


@dataclass(frozen=True)
class Reading:
    """One decode of one fitted window."""

    text: str
    no_speech_prob: float
    avg_logprob: float
    tokens: int  # tokens decoded
    budget: int  # the most tokens the decode was allowed
    compression_ratio: float  # gzip ratio of the text (Whisper's own repetition test)


@dataclass(frozen=True)
class Verdict:
    text: str | None  # what to keep, or None: this reading must not be used
    why: str  # "" when kept as read; else what was wrong ("repeats", "no speech?", ...)


@dataclass(frozen=True)
class Choice:
    text: str | None  # None: neither fitted reading will do, use the full window
    no_speech_prob: float
    window: str  # for the `stages` event: which reading was kept, and why a second was needed


def repeats_itself(text: str) -> bool:
    """A phrase said twice in a row, or a word three times: how a short encoder window fails.

    ("hello hello hello", "I didn't know you were there. I didn't know you"). A caller can say
    "five five" but rarely a whole phrase twice; a false alarm only costs a second reading.
    """
    w = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    for i in range(len(w)):
        if i + 2 < len(w) and w[i] == w[i + 1] == w[i + 2]:
            return True
        for n in range(2, (len(w) - i) // 2 + 1):
            if w[i : i + n] == w[i + n : i + 2 * n]:
                return True
    # a tail that restarts the utterance: "I didn't know you were there I didn't know you"
    for n in range(3, len(w) // 2 + 1):
        if w[-n:] == w[:n]:
            return True
    return False


def without_restart(text: str) -> str | None:
    """"I'd like to change my address. I'd like to change my address. I'd" → the first sentence(s),
    when all that follows only starts them over; None for any other repetition."""
    sentences = split_sentences(text)
    for k in range(1, len(sentences)):
        head = [w for s in sentences[:k] for w in words(s)]
        tail = [w for s in sentences[k:] for w in words(s)]
        if len(head) < 3 or not tail:
            continue
        if tail == (head * (len(tail) // len(head) + 1))[: len(tail)]:
            kept = " ".join(sentences[:k])
            return None if repeats_itself(kept) else kept
    return None


def verdict(r: Reading) -> Verdict:
    """Keep a fitted reading, trim it, or say why not (then it is read again)."""
    if r.no_speech_prob > 0.6 and r.avg_logprob < -1.0:
        return Verdict("", "")  # no speech: the full window's own rule would drop it too
    if r.no_speech_prob > 0.5:
        return Verdict(None, "no speech?")  # "you" from silence, say
    text, restarted = r.text, False
    if text and repeats_itself(text):
        # Most often the whole utterance, then Whisper starting it again in the padding: keep
        # the first pass.
        kept = without_restart(text)
        if kept is None:
            return Verdict(None, "repeats")
        text, restarted = kept, True
    if text and r.compression_ratio > 2.4:
        return Verdict(None, "repeats")
    if text and r.tokens >= r.budget and not restarted:
        return Verdict(None, "runaway")
    if text and r.avg_logprob < -1.0:
        return Verdict(None, "improbable")
    return Verdict(text, "")


def wider_beam(r: Reading, audio_s: float, logprob_gate: float = UNSURE_LOGPROB) -> str | None:
    """Why a greedy reading should be decoded again with the wide beam, or None to keep it.

    The signs are the project's own calibrated ones (`voice.second_reading.unsure`: a low mean
    log-probability, doubted speech, repetition, too many words a second) and the window's
    (`verdict`: a reading the fitted window would read again anyway)."""
    v = verdict(r)
    if v.text is None:
        return v.why
    if words(r.text) and r.avg_logprob < logprob_gate:
        return "logprob"
    return unsure(Heard(r.text, r.avg_logprob, r.no_speech_prob, r.compression_ratio, audio_s))


def lacks_only_its_stop(text: str) -> bool:
    """True for "Hi, I need to check on an order I placed last week": a reading that turn-taking
    would take as finished if it ended on a full stop. Others gain nothing from a second look."""
    t = text.strip()
    return bool(t) and t[-1].isalnum() and transcript_complete(t + ".")


def same_words(a: str, b: str) -> bool:
    return words(a) == words(b)


def choose(read: Callable[[float], Reading], first_s: float, retry_s: float, audio_s: float) -> Choice:
    """Read in the `first_s` window, again in the `retry_s` one (if > 0) when the first will not do.

    When both windows hear the same repetition ("9 9 9", "7, 7, 7") it is in the audio, not
    the padding: a repetition made up in the padding changes with the padding's length.
    """
    first = read(first_s)
    v1 = verdict(first)
    if v1.text is not None and (retry_s <= 0 or not lacks_only_its_stop(v1.text)):
        return Choice(v1.text, first.no_speech_prob, "fitted")
    if retry_s <= 0:
        return Choice(None, first.no_speech_prob, f"standard ({v1.why})")
    second = read(retry_s)
    v2 = verdict(second)
    why = v1.why or "no stop"
    if v2.text is not None:
        return Choice(v2.text, second.no_speech_prob, f"fitted {retry_s:g} s ({why})")
    if v1.text is not None:  # only its stop was missing, and the second reading is worse
        return Choice(v1.text, first.no_speech_prob, "fitted")
    if v1.why == v2.why == "repeats" and same_words(first.text, second.text):
        if len(words(first.text)) <= MAX_WORDS_PER_S * max(audio_s, 1.0):
            return Choice(first.text, first.no_speech_prob, f"fitted {retry_s:g} s (same repetition twice)")
    return Choice(None, max(first.no_speech_prob, second.no_speech_prob), f"standard ({v1.why}, {v2.why})")
