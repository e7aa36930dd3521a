"""Test-wide safety: no real model request can leave this process, no test touches ~/.xolver."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports xolver.models, and inherited by CLI subprocesses.
os.environ["XOLVER_ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("XOLVER_MODEL", None)
# Solves in tests use an in-process memory unless a test asks for the Chroma store explicitly.
os.environ["XOLVER_MEMORY_STORE"] = "memory"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("xolver-home")
    monkeypatch.setenv("XOLVER_HOME", str(home))
    monkeypatch.delenv("XOLVER_CONFIG", raising=False)
    return home
