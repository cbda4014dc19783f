"""The `asr_second` key: off by default, a folder without a Whisper model is refused by name,
and the folder reaches the models' config."""

from __future__ import annotations

import pytest

from ivr.settings import load_settings


def test_off_by_default():
    assert load_settings().asr_second is None


def test_a_folder_without_a_model_is_refused_with_the_key(tmp_path):
    with pytest.raises(ValueError, match="asr_second: no Whisper model"):
        load_settings(asr_second=str(tmp_path))


def test_a_model_folder_is_taken_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "model.bin").write_bytes(b"\0")
    monkeypatch.setenv("IVR_ASR_SECOND", str(tmp_path))
    assert load_settings().asr_second == str(tmp_path)
