"""When Whisper tiny.en is unsure of a turn, a second reading by Whisper base, and which to keep.

tiny.en hears the Piper voice word for word but mishears espeak-ng's accents (WER 20-77 %): an
opening heard as another intent, a number heard as words. Whisper base hears those voices
better but costs ~3x tiny's time a turn, so it reads only the turns tiny is unsure of, and the
signs of that are Whisper's own (measured on the tune callers, `python -m ivr.tools.caller_asr`):

- a low mean log-probability per token (tiny writing words it barely prefers to others);
- a high no-speech probability on a turn that has words (it doubts there was speech at all);
- a repetitive reading (gzip compression ratio) or more words a second than anyone says.

Which reading to keep is a comparison, not a threshold on base alone: base's reading replaces
tiny's when Whisper base is surer of its own words than tiny was of its, by `MARGIN` nats a
token. Base is no better than tiny on these voices overall (tune lines: 14.0 % WER against
11.5 %), but they err on different lines, and the surer of the two is right more often than
either (10.5 %). A base reading that is empty, repeats itself or reads as no speech is never
kept. The kept reading goes to the dialog only (`Transcript.for_dialog`); end of turn reads
tiny's, as it does beside a digits-only reading: base reads a pause's half sentence as a whole
one more often, and replacing the text the end of turn reads cut callers off (`ivr eval
callers`, tune: 7 cut-ins on lines with pauses against 4). Pure functions; the models run in
`voice.models`.
"""

from __future__ import annotations

from dataclasses import dataclass

from voice.endpointing import words

# Below this mean log-probability a token, tiny's reading is unsure. On the tune lines any gate
# from -0.25 to -0.5 with MARGIN 0.2 gives the same WER (10.5 %); -0.45 sends the fewest lines
# of that plateau to base (22 % of lines; more of a call's turns, since pauses are read too).
UNSURE_LOGPROB = -0.45
NO_SPEECH = 0.35  # a turn with words that Whisper doubts is speech
REPEATS = 2.0  # compression ratio: Whisper's own repetition test fails at 2.4
MAX_WORDS_PER_S = 5.0  # callers say ~3 words a second; more is words made up from noise
# Nats a token base must be surer than tiny for its reading to be kept: at 0.2 the WER is flat
# across gates; at 0 base is kept where the two are about as unsure, and WER varies with the gate.
MARGIN = 0.2


@dataclass(frozen=True)
class Heard:
    """One model's reading of a turn, with what Whisper reports about its confidence."""

    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    audio_s: float

    @property
    def words_per_s(self) -> float:
        return len(words(self.text)) / max(self.audio_s, 0.5)


def unsure(h: Heard) -> str | None:
    """Why tiny's reading deserves a second one ("logprob", "no speech", ...), or None if sure.

    An empty reading is left alone: silence and noise are not worth base's time."""
    if not words(h.text):
        return None
    if h.avg_logprob < UNSURE_LOGPROB:
        return "logprob"
    if h.no_speech_prob > NO_SPEECH:
        return "no speech"
    if h.compression_ratio > REPEATS:
        return "repeats"
    if h.words_per_s > MAX_WORDS_PER_S:
        return "too many words"
    return None


def usable(h: Heard) -> bool:
    """A reading fit to stand in for the first: words, not a repetition, not doubted as speech."""
    return (bool(words(h.text)) and h.compression_ratio <= 2.4 and h.no_speech_prob <= 0.5
            and h.words_per_s <= MAX_WORDS_PER_S)


def keep_second(first: Heard, second: Heard, margin: float = MARGIN) -> bool:
    """True when the second reading replaces the first."""
    if not usable(second):
        return False
    return second.avg_logprob > first.avg_logprob + margin
