"""`ivr serve`'s settings: flags over IVR_* variables over the config file over the defaults."""

import os
from types import SimpleNamespace

import pytest

from ivr.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.upper().startswith("IVR_")]:
        monkeypatch.delenv(key)


def test_defaults_are_documented_and_typed():
    s = load_settings()
    assert (s.sip, s.http, s.db, s.ring_timeout, s.invite_burst, s.log_format) == (
        "127.0.0.1:5070", "127.0.0.1:8080", "sqlite:///var/ivr.db", 20.0, 20, "text")
    assert all(f.description for f in Settings.model_fields.values())


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("IVR_SIP", "0.0.0.0:5080")
    monkeypatch.setenv("IVR_INVITE_BURST", "7")
    monkeypatch.setenv("IVR_AGENTS", '["alice=sip:alice@127.0.0.1"]')
    monkeypatch.setenv("IVR_DB_URL", "postgresql://ivr@db/ivr")  # the names the project always had
    monkeypatch.setenv("IVR_CACHE_DIR", "off")
    monkeypatch.setenv("IVR_LOG_FORMAT", "json")
    s = load_settings()
    assert (s.sip, s.invite_burst, s.agents, s.db, s.cache_dir, s.log_format) == (
        "0.0.0.0:5080", 7, ["alice=sip:alice@127.0.0.1"], "postgresql://ivr@db/ivr", "off", "json")


def test_flags_over_environment_over_file(tmp_path, monkeypatch):
    cfg = tmp_path / "ivr.yaml"
    cfg.write_text("sip: 127.0.0.1:6000\nhttp: 127.0.0.1:9000\nring_timeout: 12\nsurvey: true\nmax_calls: 50\n")
    monkeypatch.setenv("IVR_HTTP", "127.0.0.1:9100")
    monkeypatch.setenv("IVR_MAX_CALLS", "60")
    args = SimpleNamespace(config=str(cfg), sip=None, http=None, max_calls=70, agents=[], survey=None)
    s = load_settings(args)
    assert s.sip == "127.0.0.1:6000"  # the file over the default
    assert s.http == "127.0.0.1:9100"  # the environment over the file
    assert s.max_calls == 70  # the flag over both
    assert (s.ring_timeout, s.survey, s.agents) == (12.0, True, [])  # a flag not given leaves the file's


def test_db_url_from_environment_unless_a_flag_names_one(monkeypatch):
    monkeypatch.setenv("IVR_DB_URL", "postgresql://ivr:pw@db/ivr")
    assert load_settings(SimpleNamespace(db="sqlite:///x.db")).db == "sqlite:///x.db"
    assert load_settings(SimpleNamespace(db=None)).db == "postgresql://ivr:pw@db/ivr"


@pytest.mark.parametrize("key, value, words", [
    ("invite_burst", 0, "invite_burst: Input should be greater than or equal to 1"),
    ("heartbeat_s", -1, "heartbeat_s: Input should be greater than 0"),
    ("sip_block_s", 0, "sip_block_s: Input should be greater than 0"),
    ("bot", "parrot", "bot: Input should be 'triage' or 'echo'"),
    ("sip", "127.0.0.1:99999", "port out of range"),
    ("allow", ["10.0.0.300/8"], "does not appear to be an IPv4 or IPv6 network"),
    ("worker_stale_s", 3.0, "worker_stale_s: must be at least twice heartbeat_s"),
    ("pause_ms", 150, "pause_ms"),
])
def test_an_invalid_value_is_refused_naming_its_key(key, value, words):
    with pytest.raises(ValueError) as exc:
        load_settings(**{key: value})
    assert words in str(exc.value)
    assert "\n" not in str(exc.value)  # one line for `ivr serve: ...`


def test_an_invalid_environment_value_names_its_key(monkeypatch):
    monkeypatch.setenv("IVR_MAX_CALLS", "many")
    with pytest.raises(ValueError, match="max_calls: Input should be a valid integer"):
        load_settings()


def test_config_file_errors_name_the_file_and_key(tmp_path):
    cfg = tmp_path / "ivr.yaml"
    cfg.write_text("sip: 127.0.0.1:6000\nbogus: 1\n")
    with pytest.raises(ValueError, match=r"--config .*ivr.yaml: unknown setting 'bogus'"):
        load_settings(SimpleNamespace(config=str(cfg)))
    cfg.write_text("secret: hunter2\n")  # secrets come from the environment only
    with pytest.raises(ValueError, match="unknown setting 'secret'"):
        load_settings(SimpleNamespace(config=str(cfg)))
    cfg.write_text("- a list\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_settings(SimpleNamespace(config=str(cfg)))


def test_secrets_never_show_in_repr_dump_or_errors(monkeypatch):
    monkeypatch.setenv("IVR_SECRET", "s3cret-signing-key")
    monkeypatch.setenv("IVR_ADMIN_TOKEN", "adm1n-token")
    monkeypatch.setenv("IVR_DB_URL", "postgresql://ivr:dbpassw0rd@db/ivr")
    s = load_settings()
    assert s.secret.get_secret_value() == "s3cret-signing-key"
    for text in (repr(s), str(s)):
        for secret in ("s3cret-signing-key", "adm1n-token", "dbpassw0rd"):
            assert secret not in text
    assert "s3cret-signing-key" not in str(s.model_dump()) and "adm1n-token" not in str(s.model_dump())
    assert set(s.secret_values()) == {"s3cret-signing-key", "adm1n-token", "dbpassw0rd"}
    monkeypatch.setenv("IVR_SECRET", "")
    assert load_settings().secret.get_secret_value() == ""  # empty: the secret file is used (ivr.serve)


def test_settings_are_frozen():
    with pytest.raises(Exception):
        load_settings().sip = "x"


def test_agents_may_be_specs_or_mappings_and_their_passwords_stay_private(tmp_path):
    cfg = tmp_path / "ivr.yaml"
    cfg.write_text("agents:\n  - id: bob\n    sip_uri: sip:bob@127.0.0.1\n    password: b0bpass\n")
    s = load_settings(SimpleNamespace(config=str(cfg), agents=["alice=sip:alice@127.0.0.1;password=al1cepass"]))
    assert s.agents == ["alice=sip:alice@127.0.0.1;password=al1cepass"]  # the flag over the file
    assert load_settings(SimpleNamespace(config=str(cfg))).agents[0]["id"] == "bob"
    assert "al1cepass" not in repr(s) and "al1cepass" in s.secret_values()
    with pytest.raises(ValueError) as exc:
        load_settings(agents=[42, "x;password=s3cr3t"])
    assert "agents" in str(exc.value) and "s3cr3t" not in str(exc.value)


def test_rtp_ports_drain_deadline_and_the_first_admin_are_checked():
    from ivr.settings import load_settings
    from telephony.endpoint_config import port_range

    s = load_settings(None, rtp_ports="21000-21999", drain_deadline=30)
    assert port_range(s.rtp_ports) == (21000, 21999) and s.drain_deadline == 30
    for bad in ("20000", "30000-20000", "0-100", "a-b"):
        with pytest.raises(ValueError, match="rtp_ports"):
            load_settings(None, rtp_ports=bad)
    with pytest.raises(ValueError, match="admin_user"):
        load_settings(None, admin_user="root")  # a name without a password
    with pytest.raises(ValueError, match="drain_deadline"):
        load_settings(None, drain_deadline=-1)
    s = load_settings(None, admin_user="root", admin_password="s3cret-pw")
    assert "s3cret-pw" in s.secret_values() and "s3cret-pw" not in repr(s)


def test_the_first_admin_is_created_once_and_hashed(tmp_path):
    from ivr.tools.users_cli import first_admin
    from ivr.settings import load_settings
    from store import Store
    from web.auth import verify_password

    store = Store(f"sqlite:///{tmp_path}/ivr.db")
    try:
        settings = load_settings(None, admin_user="root", admin_password="s3cret-pw")
        assert first_admin(settings.admin_user, settings.admin_password.get_secret_value(), store.accounts)
        (user,) = store.accounts.list_users()
        assert user["name"] == "root" and user["role"] == "admin"
        stored = store.accounts.get_user("root")["password_hash"]
        assert stored != "s3cret-pw" and verify_password(stored, "s3cret-pw")
        assert not first_admin("other", "pw2", store.accounts)
        assert [u["name"] for u in store.accounts.list_users()] == ["root"]  # an existing store is left alone
    finally:
        store.close()
