"""Fixtures of the memory tests: stores on temporary folders, the real embedder, shared data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import HashEmbedder, SentenceTransformerEmbedder

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


@pytest.fixture
def hash_store(tmp_path: Path) -> Iterator[ChromaExperienceStore]:
    store = ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder())
    yield store
    store.close()


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    """One model load for the whole session (loading costs seconds)."""
    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    return embedder
