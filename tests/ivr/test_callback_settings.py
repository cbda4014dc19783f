"""The callback settings: one typed key (`callback`, routing.callbacks.CallbackConfig) from
IVR_CALLBACK as JSON or the config file; a bad value is refused naming the key."""

import pytest

from ivr.settings import load_settings
from routing.callbacks import CallbackConfig


def test_defaults_env_json_and_file(monkeypatch, tmp_path):
    monkeypatch.delenv("IVR_CALLBACK", raising=False)
    assert load_settings().callback == CallbackConfig()
    monkeypatch.setenv("IVR_CALLBACK", '{"trunk_uri": "sip:{number}@trunk.example.com", "max_attempts": 5}')
    cfg = load_settings().callback
    assert (cfg.trunk_uri, cfg.max_attempts, cfg.backoff_s) == ("sip:{number}@trunk.example.com", 5, 120.0)
    monkeypatch.delenv("IVR_CALLBACK")
    conf = tmp_path / "ivr.yaml"
    conf.write_text("callback:\n  backoff_s: 30\n  caller_ring_s: 20\n")
    cfg = load_settings(config=str(conf)).callback
    assert (cfg.backoff_s, cfg.caller_ring_s) == (30, 20)


@pytest.mark.parametrize("doc, says", [('{"max_attempts": 0}', "max_attempts"), ('{"trunk_uri": "trunk.example"}', "trunk_uri"),
                                       ('{"retries": 2}', "callback")])
def test_bad_values_name_the_key(monkeypatch, doc, says):
    monkeypatch.setenv("IVR_CALLBACK", doc)
    with pytest.raises(ValueError, match=says):
        load_settings()
