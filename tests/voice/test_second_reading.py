"""The second reading's rule, on hand-made readings: which turns Whisper base reads again, and
when its reading replaces tiny.en's."""

from __future__ import annotations

from voice.models import Transcript
from voice.second_reading import MARGIN, UNSURE_LOGPROB, Heard, keep_second, unsure, usable


def heard(text="I'd like to check my order.", logprob=-0.2, no_speech=0.02, compression=1.1, audio_s=2.0):
    return Heard(text, logprob, no_speech, compression, audio_s)


def test_a_confident_reading_is_not_read_again():
    assert unsure(heard()) is None


def test_a_low_logprob_reading_is_read_again():
    assert unsure(heard("So, that's not right.", logprob=UNSURE_LOGPROB - 0.3)) == "logprob"


def test_doubt_about_speech_repetition_and_too_many_words_are_each_reasons():
    assert unsure(heard(no_speech=0.45)) == "no speech"
    assert unsure(heard(compression=2.2)) == "repeats"
    assert unsure(heard("one two three four five six seven eight nine ten eleven twelve", audio_s=1.0)) == "too many words"


def test_silence_is_never_sent_to_base_even_when_whisper_is_unsure():
    assert unsure(heard("", logprob=-1.5, no_speech=0.9)) is None
    assert unsure(heard("...", logprob=-1.5)) is None  # no words, only marks


def test_base_replaces_tiny_only_when_it_is_surer_by_the_margin():
    tiny = heard("So, that's not right.", logprob=-0.76)
    assert keep_second(tiny, heard("No, that's not right.", logprob=-0.45))
    assert not keep_second(tiny, heard("No, that's not right.", logprob=-0.76 + MARGIN / 2))  # about as unsure
    assert not keep_second(tiny, heard("Yeah, clean.", logprob=-0.83))  # base less sure: tiny stays


def test_an_unusable_base_reading_is_never_kept_however_sure():
    tiny = heard("Hey, don't they, though.", logprob=-0.9)
    assert not keep_second(tiny, heard("", logprob=-0.1))
    assert not keep_second(tiny, heard("Wah wah wah wah wah.", logprob=-0.1, compression=2.6))
    assert not keep_second(tiny, heard("Thank you.", logprob=-0.1, no_speech=0.7))
    assert not usable(heard("one two three four five six seven eight nine ten eleven", audio_s=1.0))


def test_the_dialog_gets_digits_first_then_bases_kept_reading_and_end_of_turn_keeps_tinys():
    t = Transcript("So, that's not right.", 0.3)
    assert t.for_dialog == "So, that's not right."
    t.kept_second = "No, that's not right."
    assert t.for_dialog == "No, that's not right." and t.text == "So, that's not right."
    t.digits = "60789"
    assert t.for_dialog == "60789"
