"""What a server shares across requests: one model, one memory store, one base configuration.

They are built by one `SolveRuntime` (the composition root). Each request gets its own `Xolver` on
the shared model and store with the request's options applied (team size, rounds, namespace), so
concurrent requests never share per-solve state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from xolver.api import Xolver
from xolver.config import AnswerFormat, XolverConfig
from xolver.errors import UserError
from xolver.memory.base import ExperienceStore
from xolver.memory.stores import StoreSpec
from xolver.models.base import ImagePart, Model
from xolver.models.composite import ImageAttachingModel
from xolver.runtime import UNSET, SolveRuntime

__all__ = ["SolveOptions", "SolveService", "StoreSpec"]


@dataclass(frozen=True)
class SolveOptions:
    """Per-request options; `None` keeps the server's setting.

    Attributes:
        agents: solver agents m.
        rounds: refinement rounds I after the first.
        namespace: the memory namespace (tenant) this solve reads and writes.
        answer_format: the format the verifier extracts.
        temperature: the temperature of the solvers' sampled attempts (``explore_temperature`` and
            ``explore_program_temperature``); the first attempt of each method stays greedy, and the
            planner, judge and verifier keep the server's settings.
        stream_tokens: emit `AgentToken` events while models generate.
        images: images that go with the problem to every role (a vision backbone only).
    """

    agents: int | None = None
    rounds: int | None = None
    namespace: str | None = None
    answer_format: AnswerFormat | None = None
    temperature: float | None = None
    stream_tokens: bool = False
    images: tuple[ImagePart, ...] = ()


class SolveService:
    """Builds a `Xolver` per request on a shared model and memory store.

    Args:
        model: the backbone, shared by every request; it must be safe to call concurrently (the
            `Model` protocol asks that; the local llama.cpp model serialises its own calls).
            Default: the config's model, built here and released by `close`; a model passed in is
            the caller's to close.
        config: the server's settings; requests override only the fields of `SolveOptions`.
        memory: the experience store shared by every request: a store (the caller's), a
            `StoreSpec` to open (opened here, before the first request, and closed by `close`), or
            None for no episodic memory; default: the store the config names. Tenants are kept
            apart by the namespace each solve passes to it.
        lock_namespace: refuse requests that name another namespace than the config's, for a
            deployment that serves one tenant per process.
        max_agents: the largest team a request may ask for (default: the config's limit).
        max_rounds: the most rounds a request may ask for (default: the config's limit).
    """

    def __init__(
        self,
        model: Model | None = None,
        *,
        config: XolverConfig,
        memory: ExperienceStore | StoreSpec | None = UNSET,
        lock_namespace: bool = False,
        max_agents: int | None = None,
        max_rounds: int | None = None,
    ) -> None:
        self.runtime = SolveRuntime(config, model=model, memory=memory)
        self.runtime.open_memory()  # a store that cannot be opened fails the start, not a request
        self.config = config
        self.lock_namespace = lock_namespace
        self.max_agents = max_agents
        self.max_rounds = max_rounds

    @property
    def model(self) -> Model:
        """The backbone every request shares."""
        return self.runtime.model

    @property
    def memory(self) -> ExperienceStore | None:
        """The experience store every request shares (None: no episodic memory)."""
        return self.runtime.memory

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
            "explore_temperature": options.temperature,
            "explore_program_temperature": options.temperature,
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
        """A `Xolver` for one request, on the shared model and store (its `close` leaves them open).

        With images, its calls go through an `ImageAttachingModel` on the shared model.
        """
        options = options or SolveOptions()
        model = ImageAttachingModel(self.model, options.images) if options.images else self.model
        return Xolver(model, config=self.config_for(options), memory=self.memory)

    def close(self) -> None:
        """Release what this service opened: the model it built (e.g. the llama.cpp context) and
        the store it opened."""
        self.runtime.close()
