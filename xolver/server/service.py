"""What a server shares across requests: one model, one memory store, one base configuration.

Each request gets its own `Xolver` built on the shared model and store with the request's options
applied (team size, rounds, namespace), so concurrent requests never share per-solve state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from xolver.api import Xolver
from xolver.config import AnswerFormat, XolverConfig
from xolver.errors import UserError
from xolver.memory.base import ExperienceStore
from xolver.models.base import Model

__all__ = ["MemoryBackend", "SolveOptions", "SolveService", "open_memory"]

MemoryBackend = Literal["chroma", "memory", "none"]


@dataclass(frozen=True)
class SolveOptions:
    """Per-request options; `None` keeps the server's setting.

    Attributes:
        agents: solver agents m.
        rounds: refinement rounds I after the first.
        namespace: the memory namespace (tenant) this solve reads and writes.
        answer_format: the format the verifier extracts.
        temperature: sampling temperature of solver calls.
        stream_tokens: emit `AgentToken` events while models generate.
    """

    agents: int | None = None
    rounds: int | None = None
    namespace: str | None = None
    answer_format: AnswerFormat | None = None
    temperature: float | None = None
    stream_tokens: bool = False


class SolveService:
    """Builds a `Xolver` per request on a shared model and memory store.

    Args:
        model: the backbone, shared by every request; it must be safe to call concurrently (the
            `Model` protocol asks that; the local llama.cpp model serialises its own calls).
        config: the server's settings; requests override only the fields of `SolveOptions`.
        memory: the experience store shared by every request (None: no episodic memory).
            Tenants are kept apart by the namespace each solve passes to it.
        lock_namespace: refuse requests that name another namespace than the config's, for a
            deployment that serves one tenant per process.
        max_agents: the largest team a request may ask for (default: the config's limit).
        max_rounds: the most rounds a request may ask for (default: the config's limit).
    """

    def __init__(
        self,
        model: Model,
        *,
        config: XolverConfig,
        memory: ExperienceStore | None,
        lock_namespace: bool = False,
        max_agents: int | None = None,
        max_rounds: int | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.memory = memory
        self.lock_namespace = lock_namespace
        self.max_agents = max_agents
        self.max_rounds = max_rounds

    def namespace(self, requested: str | None) -> str:
        """The namespace a request may use.

        Raises:
            UserError: the namespace is locked to another one.
        """
        if requested is None or requested == self.config.namespace:
            return self.config.namespace
        if self.lock_namespace:
            raise UserError(f"this server only serves namespace {self.config.namespace!r}, not {requested!r}")
        return requested

    def config_for(self, options: SolveOptions) -> XolverConfig:
        """The server config with `options` applied and validated.

        Raises:
            UserError: an option is out of range or exceeds the server's limits.
        """
        if self.max_agents is not None and options.agents is not None and options.agents > self.max_agents:
            raise UserError(f"agents must be at most {self.max_agents} on this server, got {options.agents}")
        if self.max_rounds is not None and options.rounds is not None and options.rounds > self.max_rounds:
            raise UserError(f"rounds must be at most {self.max_rounds} on this server, got {options.rounds}")
        overrides: dict[str, Any] = {
            "agents": options.agents,
            "rounds": options.rounds,
            "answer_format": options.answer_format,
            "temperature": options.temperature,
        }
        updates = {k: v for k, v in overrides.items() if v is not None}
        updates["namespace"] = self.namespace(options.namespace)
        if options.stream_tokens:
            updates["stream_tokens"] = True
        try:
            return XolverConfig.model_validate({**self.config.model_dump(), **updates})
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "options"
            raise UserError(f"invalid option {where}: {first['msg']}") from e

    def xolver(self, options: SolveOptions | None = None) -> Xolver:
        """A `Xolver` for one request. Do not `close()` it: that would close the shared model."""
        return Xolver(self.model, config=self.config_for(options or SolveOptions()), memory=self.memory)

    def close(self) -> None:
        """Release the shared model (e.g. the llama.cpp context)."""
        close = getattr(self.model, "close", None)
        if callable(close):
            close()


def open_memory(
    backend: MemoryBackend,
    *,
    path: str | os.PathLike[str] | None = None,
    embedder: str | None = None,
) -> ExperienceStore | None:
    """Open the experience store a server shares across requests.

    Args:
        backend: ``chroma`` (persistent, hybrid dense + BM25 search; default folder
            ``$XOLVER_HOME/memory``), ``memory`` (in-process BM25, forgotten on exit) or ``none``.
        path: the chroma folder.
        embedder: a sentence-transformers model name or path (default all-MiniLM-L6-v2), or
            ``hash`` / ``hash:<dim>`` for the model-free test embedder.

    Raises:
        UserError: the folder cannot be opened or was built with another embedder.
    """
    if backend == "none":
        return None
    if backend == "memory":
        from xolver.memory.bm25 import InMemoryExperienceStore

        return InMemoryExperienceStore()
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.embedders import Embedder, HashEmbedder, SentenceTransformerEmbedder

    chosen: Embedder
    if embedder is not None and (embedder == "hash" or embedder.startswith("hash:")):
        _, _, dim = embedder.partition(":")
        if dim and not dim.isdigit():
            raise UserError(f"hash embedder dimension must be a number, got {dim!r}")
        chosen = HashEmbedder(int(dim) if dim else 256)
    else:
        chosen = SentenceTransformerEmbedder(embedder) if embedder else SentenceTransformerEmbedder()
    # Not bound to a namespace: each solve passes its own, so one store serves every tenant.
    return ChromaExperienceStore(path, embedder=chosen)
