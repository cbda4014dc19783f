"""Engines: the store needs a SQLite file (WAL, several processes), never an in-memory database."""

from __future__ import annotations

import pytest

from store import Store


def test_in_memory_sqlite_is_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        Store("sqlite://")
