"""Shared fixtures: the models load once per test session (about 3 s)."""

from __future__ import annotations

import os
from datetime import date

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TODAY = date(2026, 11, 21)  # a Saturday


@pytest.fixture(scope="session")
def today() -> date:
    return TODAY


@pytest.fixture(scope="session")
def classifier():
    from nlu.intents import get_classifier

    return get_classifier()


@pytest.fixture(scope="session")
def understanding(classifier):
    from nlu.understanding import Understanding

    return Understanding(classifier=classifier, today=lambda: TODAY)


@pytest.fixture()
def backend():
    from nlu.backend import open_demo_backend

    be = open_demo_backend(":memory:", today=TODAY)
    yield be
    be.close()
