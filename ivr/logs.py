"""The service's log lines: readable text, or JSON lines for a log shipper (`--log-format json`).

A JSON line has ts, level, logger and message, and call_id while a call's task is logging (set
by ``call_context``: a context variable follows the call into every task it starts, so no log
call has to pass it). Whatever the format, the service's secrets are masked in every line, a
traceback's included: a secret that reaches a message by mistake still never reaches the log.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "**********"
_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ivr_call_id", default=None)


@contextlib.contextmanager
def call_context(call_id: str) -> Iterator[None]:
    """Log records made inside (and in tasks started inside) carry this call's id."""
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


class _CallId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_id", None) is None:
            record.call_id = _call_id.get()
        return True


class _Masking(logging.Formatter):
    """A formatter that masks the given secrets in what the format it wraps produced."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]):
        super().__init__()
        self._inner = inner
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = self._inner.format(record)
        for secret in self._secrets:
            line = line.replace(secret, MASK)
        return line


class JsonLines(logging.Formatter):
    """One JSON object per record: ts (UTC, ISO 8601), level, logger, message[, call_id][, exc]."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if getattr(record, "call_id", None) is not None:
            doc["call_id"] = record.call_id
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(fmt: str = "text", *, secrets: Iterable[str] = (), level: int = logging.INFO,
                      stream=None) -> logging.Handler:
    """The root logger's one handler, in `fmt` ("text" or "json"), masking `secrets`."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log_format: must be text or json (got {fmt!r})")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_CallId())
    inner = JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(_Masking(inner, secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    return handler
