"""`--log-format`: text or JSON lines, a call's id on its records, and secrets masked in both."""

import asyncio
import io
import json
import logging
import os

import pytest

from ivr.logs import MASK, call_context, configure_logging
from ivr.settings import load_settings


@pytest.fixture
def capture(monkeypatch):
    """configure_logging onto a buffer; pytest's own handlers are put back afterwards."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    for key in [k for k in os.environ if k.upper().startswith("IVR_")]:
        monkeypatch.delenv(key)
    buf = io.StringIO()

    def setup(fmt, secrets=()):
        configure_logging(fmt, secrets=secrets, stream=buf)
        return buf

    yield setup
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved:
        root.addHandler(h)
    root.setLevel(level)


def test_json_lines_have_ts_level_logger_message_and_call_id(capture):
    buf = capture("json")
    log = logging.getLogger("ivr.test")
    log.info("before %s", "any call")

    async def call():
        with call_context("c-42"):
            await asyncio.create_task(asyncio.sleep(0))  # tasks started in the call carry its id too
            log.warning("in the call")
            await asyncio.create_task(_log_later(log))

    asyncio.run(call())
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [(d["level"], d["logger"], d["message"]) for d in lines] == [
        ("INFO", "ivr.test", "before any call"), ("WARNING", "ivr.test", "in the call"),
        ("INFO", "ivr.test", "from a task")]
    assert "call_id" not in lines[0] and lines[1]["call_id"] == lines[2]["call_id"] == "c-42"
    assert lines[0]["ts"].endswith("+00:00")


async def _log_later(log):
    log.info("from a task")


def test_text_format_is_the_readable_line(capture):
    buf = capture("text")
    logging.getLogger("ivr").info("ready")
    assert buf.getvalue().rstrip().endswith("INFO ivr: ready")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_secret_set_in_settings_never_appears_in_the_log(capture, monkeypatch, fmt):
    monkeypatch.setenv("IVR_SECRET", "s3cret-signing-key")
    monkeypatch.setenv("IVR_ADMIN_TOKEN", "adm1n-token")
    monkeypatch.setenv("IVR_DB_URL", "postgresql://ivr:dbpassw0rd@db/ivr")
    settings = load_settings(log_format=fmt)
    buf = capture(settings.log_format, settings.secret_values())
    log = logging.getLogger("ivr")
    log.info("settings: %r", settings)
    log.info("settings: %s", settings.model_dump())
    log.warning("by mistake: %s and %s", settings.secret.get_secret_value(), settings.db)
    try:
        raise RuntimeError(f"token {settings.admin_token.get_secret_value()}")
    except RuntimeError:
        log.exception("a traceback")
    out = buf.getvalue()
    for secret in ("s3cret-signing-key", "adm1n-token", "dbpassw0rd"):
        assert secret not in out
    assert MASK in out and "a traceback" in out


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="log_format"):
        configure_logging("xml")
