import jiwer
import pytest

from voice.wer import normalise, wer


def test_normalise_spells_digits_and_drops_punctuation():
    assert normalise("Order 4567, please!") == ["order", "four", "five", "six", "seven", "please"]


@pytest.mark.parametrize(
    "ref,hyp",
    [("the cat sat on the mat", "the cat sat on mat"), ("hello world", "hello there world"), ("a b c", "x y z"), ("one", "")],
)
def test_agrees_with_jiwer(ref, hyp):
    assert wer(ref, hyp) == pytest.approx(jiwer.wer(ref, hyp) if hyp else 1.0)
