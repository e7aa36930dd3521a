"""Fixtures shared by the role tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from xolver.tools.toolbox import ToolBox


@pytest.fixture
async def toolbox() -> AsyncIterator[ToolBox]:
    """A real sandbox-backed toolbox for one test, stopped afterwards."""
    box = ToolBox(timeout=20, max_seconds=60)
    try:
        yield box
    finally:
        await box.aclose()
