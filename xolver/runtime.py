"""The composition root: what a surface's solves run on, built in one place from an `XolverConfig`.

`SolveRuntime` holds the model and the experience store that every solve of one surface shares,
and builds what each solve gets for itself: its budget, its toolbox (the Python sandbox) and the
`SolveContext` the graph's nodes receive. It closes exactly what it built and leaves alone what a
caller passed in. `Xolver`, `xolver_node`, the OpenAI endpoint and MCP (`SolveService`), chat and
eval all build through it; the ``xolver memory`` commands use the same store factory
(`xolver.memory.stores`).

    >>> with SolveRuntime(XolverConfig.load(model="openai/gpt-4o-mini")) as runtime:
    ...     async with runtime.solve_context() as context:
    ...         await graph.ainvoke({"problem": "..."}, config=run_config(runtime.config), context=context)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from xolver import tracing
from xolver.agents.runner import Budget
from xolver.config import XolverConfig
from xolver.graph.state import SolveContext
from xolver.memory.base import ExperienceStore
from xolver.memory.stores import StoreSpec, open_store
from xolver.models import Model, model_from_config
from xolver.tools.base import Tool
from xolver.tools.toolbox import ToolBox

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

__all__ = ["UNSET", "SolveRuntime", "StoreSpec", "open_store", "run_config"]

UNSET: Any = object()
"""The default of a `memory` argument: the store the config names (distinct from None: no store)."""


def run_config(
    config: XolverConfig, *, base: RunnableConfig | None = None, thread_id: str | None = None
) -> RunnableConfig:
    """LangGraph's run config for one solve: a recursion limit the configured rounds fit in.

    Args:
        config: the solve's settings.
        base: a parent graph's run config to extend (`xolver_node`); its own limit is kept when larger.
        thread_id: the checkpoint thread.
    """
    needed = 12 + 6 * config.total_rounds
    out: RunnableConfig = {**base} if base is not None else {}
    out["recursion_limit"] = max(base.get("recursion_limit", 25), needed) if base is not None else needed
    if thread_id is not None:
        out["configurable"] = {**out.get("configurable", {}), "thread_id": thread_id}
    return out


def _close(thing: object) -> None:
    close = getattr(thing, "close", None)
    if callable(close):
        close()


class SolveRuntime:
    """The model and experience store a surface's solves share, and each solve's context.

    Args:
        config: the settings; `solve_context` takes a per-solve config too (a request's team size,
            a tenant's namespace) that shares this model and store.
        model: a `Model` the caller owns (never closed here); default: the config's model
            (`model_from_config`), closed by `close`.
        memory: an `ExperienceStore` the caller owns (never closed here), None for no store, or a
            `StoreSpec` to open; default: the store the config names (`StoreSpec.from_config`).
            A store to open is opened on first use (`open_memory`, or the first solve) and closed by
            `close`.

    Raises:
        UserError: the config names no usable model.
    """

    def __init__(
        self,
        config: XolverConfig,
        *,
        model: Model | None = None,
        memory: ExperienceStore | StoreSpec | None = UNSET,
        tools: Sequence[Tool[Any]] = (),
    ) -> None:
        self.config = config
        self.tools: tuple[Tool[Any], ...] = tuple(tools)
        """The user's own tools, offered to every solve next to the built-in ones."""
        self._owns_model = model is None
        self.model: Model = model if model is not None else model_from_config(config)
        if memory is UNSET:
            memory = StoreSpec.from_config(config)
        self._spec: StoreSpec | None = memory if isinstance(memory, StoreSpec) else None
        self._store: ExperienceStore | None = None if isinstance(memory, StoreSpec) else memory
        self._opened = False  # whether _store is one this runtime opened (and must close)
        self._lock = threading.Lock()

    @property
    def owns_model(self) -> bool:
        """Whether the model was built here from the config (so a worker elsewhere can build its own)."""
        return self._owns_model

    @property
    def memory(self) -> ExperienceStore | None:
        """The store: the caller's, or the one this runtime opened; None before it is opened."""
        return self._store

    def open_memory(self) -> ExperienceStore | None:
        """The store, opened on the first call (blocking: loading an embedder can take seconds).

        Raises:
            UserError: the store cannot be opened (see `open_store`).
        """
        with self._lock:
            if self._spec is not None and not self._opened:
                self._store = open_store(self._spec)
                self._opened = True
            return self._store

    async def aopen_memory(self) -> ExperienceStore | None:
        """`open_memory` from async code: a first open runs in a worker thread."""
        if self._spec is None or self._opened:
            return self._store
        return await asyncio.to_thread(self.open_memory)

    def replace_model(self, model: Model | None = None, *, config: XolverConfig | None = None) -> Model:
        """Run later solves on another model and keep the store (chat's ``/model NAME``).

        Args:
            model: a `Model` the caller owns (never closed here); default: the model `config`
                names (`model_from_config`), built here and closed by `close`.
            config: what the default model is built from (default: this runtime's config, which
                stays as it is).

        The model this runtime built before is closed; a caller's is left open. When the new model
        cannot be built, the current one stays.

        Raises:
            UserError: `config` names no usable model.
        """
        new = model if model is not None else model_from_config(config or self.config)
        with self._lock:
            old = self.model if self._owns_model else None
            self.model, self._owns_model = new, model is None
        if old is not None and old is not new:
            _close(old)
        return new

    def budget(self, config: XolverConfig | None = None) -> Budget:
        """A fresh budget with the config's call, token and time limits (its clock starts now)."""
        cfg = config or self.config
        return Budget(
            max_calls=cfg.max_calls, max_tokens=cfg.max_total_tokens, max_seconds=cfg.max_seconds, max_cost=cfg.max_cost
        )

    def toolbox(self, config: XolverConfig | None = None) -> ToolBox | None:
        """A fresh toolbox (the Python sandbox of one solve), or None when ``python_tool`` is off."""
        cfg = config or self.config
        if not cfg.python_tool:
            return None
        lean: Tool[Any] | None = None
        if "lean_check" in cfg.tools or cfg.lean_command or cfg.lean_project:
            from xolver.tools.lean import LeanChecker

            lean = LeanChecker(command=cfg.lean_command, project=cfg.lean_project, timeout=cfg.lean_timeout)
        return ToolBox(timeout=cfg.tool_timeout, max_seconds=cfg.max_tool_seconds, tools=self.tools, lean=lean)

    @contextlib.asynccontextmanager
    async def solve_context(self, config: XolverConfig | None = None) -> AsyncIterator[SolveContext]:
        """The dependencies of one solve: this model and store, a fresh budget and toolbox, and the
        solve's spans when tracing is on (`xolver.tracing`).

        The store is opened first if need be (not when the solve's ``memory_mode`` is off); the
        toolbox's sandbox is stopped and the solve's span ended when the block ends, however it ends.
        """
        cfg = config or self.config
        memory = await self.aopen_memory() if cfg.memory_mode != "off" else None
        # The time budget starts after the store is open: loading an embedder is not the solve's time.
        budget = self.budget(cfg)
        tools = self.toolbox(cfg)
        trace = tracing.start_solve(cfg, model=self.model.name)
        try:
            yield SolveContext(model=self.model, config=cfg, budget=budget, memory=memory, tools=tools, trace=trace)
        except GeneratorExit:  # the caller stopped reading the solve's events: not a failure
            raise
        except BaseException as e:
            if trace is not None:
                trace.finish(error=e)
                trace = None
            raise
        finally:
            if trace is not None:
                trace.finish()
            if tools is not None:
                await tools.aclose()

    def close(self) -> None:
        """Close the store this runtime opened and the model it built; nothing a caller passed in.

        Idempotent. A store to open is opened again if a solve runs afterwards.
        """
        with self._lock:
            store = self._store if self._opened else None
            if self._opened:
                self._store, self._opened = None, False
            model, self._owns_model = (self.model if self._owns_model else None), False
        if store is not None:
            _close(store)
        if model is not None:
            _close(model)

    def __enter__(self) -> SolveRuntime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> SolveRuntime:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)
