"""Fixtures of the unit tests."""

from __future__ import annotations

import pytest

from .harness import Harness


@pytest.fixture
def h() -> Harness:
    """The core on fakes with the default settings (a module may override it)."""
    return Harness()
