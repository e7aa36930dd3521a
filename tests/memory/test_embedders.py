from __future__ import annotations

import math
import subprocess
import sys

import pytest

from xolver.errors import UserError
from xolver.memory.embedders import Embedder, HashEmbedder, SentenceTransformerEmbedder, shipped_minilm_path


def _norm(v: list[float]) -> float:
    return math.sqrt(sum(x * x for x in v))


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hash_embedder_is_deterministic_normalised_and_word_sensitive() -> None:
    e = HashEmbedder(64)
    assert isinstance(e, Embedder)
    a, b, c, empty = e.embed(["a train at 60 km/h", "a train at 60 km/h", "sum of a geometric series", ""])
    assert a == b
    assert len(a) == 64 == e.dimension
    assert all(abs(_norm(v) - 1.0) < 1e-9 for v in (a, c, empty))
    assert _cos(a, e.embed(["train speed 60 km/h"])[0]) > _cos(a, c)
    assert e.id != HashEmbedder(128).id


def test_hash_embedder_rejects_tiny_dimension() -> None:
    with pytest.raises(UserError):
        HashEmbedder(1)


def test_importing_embedders_does_not_import_torch() -> None:
    heavy = "('torch', 'sentence_transformers', 'chromadb')"
    code = f"import sys, xolver.memory; print(any(m in sys.modules for m in {heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_shipped_model_is_found() -> None:
    path = shipped_minilm_path()
    assert path is not None and (path / "modules.json").is_file()


@pytest.mark.slow
def test_sentence_transformer_embedder_loads_offline_and_ranks_meaning(
    real_embedder: SentenceTransformerEmbedder,
) -> None:
    assert real_embedder.dimension == 384
    assert real_embedder.id == "sentence-transformers:sentence-transformers/all-MiniLM-L6-v2"
    q, near, far = real_embedder.embed(
        ["A car drives at 50 miles per hour", "How fast does the train travel?", "Factor the polynomial x^2 - 1"]
    )
    assert abs(_norm(q) - 1.0) < 1e-5
    assert _cos(q, near) > _cos(q, far)
    assert real_embedder.embed([]) == []


@pytest.mark.slow  # imports sentence-transformers and torch (seconds)
def test_unknown_model_is_a_user_error(tmp_path: pytest.TempPathFactory) -> None:
    e = SentenceTransformerEmbedder(str(tmp_path) + "/no-such-model")
    with pytest.raises(UserError, match="cannot load embedding model"):
        e.embed(["x"])
