"""`Xolver`: the public entry point. Build it once, then `solve`, `asolve`, `stream` or `astream`."""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Generator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from xolver._sync import iterate_sync, run_sync
from xolver.config import XolverConfig
from xolver.errors import ModelError, PermanentModelError, TransientModelError, UserError
from xolver.events import Event, SolveFinished, SolveStarted
from xolver.graph.builder import build_graph
from xolver.graph.result import solution_from_state
from xolver.graph.state import SolveContext, SolveState
from xolver.memory.base import ExperienceStore
from xolver.models import Model
from xolver.models.base import ModelRequest, ModelResponse, StreamingModel, TextSink
from xolver.runtime import UNSET, SolveRuntime, run_config
from xolver.solution import CallRecord, Solution

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from xolver.agents.prover import ProofOutcome
    from xolver.batch.problems import Problem
    from xolver.batch.ray_executor import RayOptions
    from xolver.batch.records import BatchItem
    from xolver.batch.runner import Executor
    from xolver.tools.base import Tool

__all__ = ["Xolver"]


class Xolver:
    """A team of LLM agents with a shared and an episodic memory.

    Args:
        model: a model string (``"local"``, ``"openai/gpt-4o-mini"``, ...) or a `Model` instance;
            default: the config's model (``XOLVER_MODEL``, the config file, else ``"local"``).
        config: a full `XolverConfig`; keyword `overrides` are applied on top of it.
        memory: the episodic memory store. By default the one the config names
            (``memory_store``: the persistent Chroma store at ``$XOLVER_HOME/memory``, or an
            in-process BM25 store), opened on the first solve and closed by `close`. Pass ``None``
            to run without one. A model or store passed in is the caller's: `close` leaves it open.
        custom_tools: your own tools (`xolver.tools.base.Tool`, e.g. made with
            `xolver.tools.registry.function_tool`), offered to function-calling models next to
            the built-in ones (docs/tools.md).
        **overrides: any `XolverConfig` field, e.g. ``agents=3, rounds=2, max_calls=20``.

    Example:
        >>> xo = Xolver("openai/gpt-4o-mini", agents=3, rounds=2)
        >>> xo.solve("What is 17 * 23?").answer
        '391'
    """

    def __init__(
        self,
        model: str | Model | None = None,
        *,
        config: XolverConfig | None = None,
        memory: ExperienceStore | None = UNSET,
        custom_tools: Sequence[Tool[Any]] = (),
        **overrides: Any,
    ) -> None:
        if isinstance(model, str):
            overrides["model"] = model
        if custom_tools:  # a tool given is a tool offered
            offered = list(overrides.get("tools") or (config.tools if config else XolverConfig().tools))
            overrides["tools"] = offered + [t.name for t in custom_tools if t.name not in offered]
        if config is None:
            config = XolverConfig.load(**overrides)
        elif overrides:
            config = XolverConfig.model_validate({**config.model_dump(), **overrides})
        self.config = config
        self.runtime = SolveRuntime(
            config, model=None if isinstance(model, str) else model, memory=memory, tools=custom_tools
        )
        """What the solves run on: the model, the store, each solve's budget and sandbox."""
        # Without a checkpoint file, threads are kept in process so `resume` still works.
        self._memory_saver: Any = None

    @property
    def model(self) -> Model:
        """The backbone model."""
        return self.runtime.model

    @property
    def memory(self) -> ExperienceStore | None:
        """The episodic memory store (the config's is opened on the first solve; None before)."""
        return self.runtime.memory

    # ----------------------------------------------------------------- async API

    async def astream(
        self, problem: str, *, tests: Sequence[str] | None = None, thread_id: str | None = None
    ) -> AsyncIterator[Event]:
        """Solve `problem`, yielding typed events; the last one is `SolveFinished`.

        Args:
            problem: the problem statement.
            tests: for code tasks (``answer_format="code"``), Python snippets (e.g. ``assert f(2) == 4``)
                that a correct program passes; the judge runs them and the verifier debugs against them.
            thread_id: checkpoint thread, to resume the solve later with `resume`.
        """
        if not problem or not problem.strip():
            raise UserError("the problem is empty")
        graph_input: SolveState = {"problem": problem.strip(), "tests": [t for t in tests or [] if t.strip()]}
        async for event in self._run(graph_input, thread_id=thread_id, resume=False):
            yield event

    async def asolve(
        self, problem: str, *, tests: Sequence[str] | None = None, thread_id: str | None = None
    ) -> Solution:
        """Solve `problem` and return the `Solution` (see `astream` for the arguments)."""
        return await _final(self.astream(problem, tests=tests, thread_id=thread_id))

    async def aresume_stream(self, thread_id: str) -> AsyncIterator[Event]:
        """Continue an interrupted solve from its last checkpoint, yielding events."""
        async for event in self._run(None, thread_id=thread_id, resume=True):
            yield event

    async def aresume(self, thread_id: str) -> Solution:
        """Continue an interrupted solve from its last checkpoint (needs a checkpointer)."""
        return await _final(self.aresume_stream(thread_id))

    async def aprove(
        self, statement: str, *, header: str = "", max_attempts: int = 4, automation: Sequence[str] | None = None
    ) -> ProofOutcome:
        """Prove a Lean 4 theorem statement: automation first, then proposals repaired from Lean's
        diagnostics (`xolver.agents.prover`), each checked soundly (`xolver.tools.lean.ProofChecker`)
        with the config's toolchain (``lean_command``, ``lean_project``, else ``lean`` on PATH).

        With the memory on (``memory_mode`` ``frozen`` or ``learn``), stored Lean proofs related to
        the statement are shown to the model and a stored proof of this very statement is checked
        before anything else; with ``learn``, an accepted proof and the sub-goals it repaired are
        stored as code records (`xolver.memory.proofs`).

        Args:
            statement: ``theorem name binders : type`` (a trailing ``:= by`` is fine).
            header: the trusted file head: ``import Mathlib`` and ``open`` lines, or a ``prelude``.
            max_attempts: model proposals and repairs, at most (the call budget bounds them too).
            automation: tactics tried before any model call (default `AUTOMATION`).

        Raises:
            UserError: no Lean toolchain (the message says what to install), or not a statement.
        """
        import asyncio

        from xolver.agents.prover import AUTOMATION, prove
        from xolver.agents.runner import AgentRunner
        from xolver.memory.proofs import proof_experience, proof_records, recall_proofs, stored_proofs
        from xolver.models.base import ModelSettings
        from xolver.tools.lean import LeanChecker, LeanTask, ProofChecker, proof_body

        cfg = self.config
        lean = LeanChecker(command=cfg.lean_command, project=cfg.lean_project, timeout=cfg.lean_timeout)
        if not lean.available:
            raise UserError(lean.missing)
        task = LeanTask(statement=statement, header=header)
        _ = task.goal  # a statement that cannot be read fails here, before any call
        store = await self.runtime.aopen_memory() if cfg.memory_mode != "off" else None
        hits = await asyncio.to_thread(recall_proofs, store, task.head, namespace=cfg.namespace) if store else []
        settings = ModelSettings(temperature=0.0, max_tokens=cfg.max_tokens, timeout=cfg.request_timeout)
        runner = AgentRunner(self.model, self.runtime.budget(cfg), settings=settings)
        outcome = await prove(
            runner,
            ProofChecker(lean),
            task,
            max_attempts=max_attempts,
            automation=AUTOMATION if automation is None else tuple(automation),
            experience=proof_experience(hits),
            known=stored_proofs(task.head, hits),
        )
        outcome.recalled = [h.record.id for h in hits]
        if store is None:
            return outcome
        if hits:
            # The checker's verdict is the grounded outcome of showing them; a stored proof of this
            # very statement that Lean rejected is blamed whatever the outcome.
            rejected = {a.source for a in outcome.attempts if a.origin == "memory" and not a.accepted}
            blamed = [h.record.id for h in hits if h.record.code in rejected]
            shown = [i for i in outcome.recalled if i not in blamed]
            await asyncio.to_thread(store.record_use, blamed, 0.0)
            await asyncio.to_thread(store.record_use, shown, 1.0 if outcome.proved else 0.0)
        if cfg.memory_mode == "learn" and outcome.proved and outcome.proof is not None:
            records = proof_records(
                task.head,
                proof_body(task, outcome.proof),
                [(s.type, s.step) for s in outcome.subgoals],
                namespace=cfg.namespace,
            )
            outcome.memory_written = await asyncio.to_thread(store.add, records)
        return outcome

    def prove(
        self, statement: str, *, header: str = "", max_attempts: int = 4, automation: Sequence[str] | None = None
    ) -> ProofOutcome:
        """Blocking `aprove`."""
        return run_sync(self.aprove(statement, header=header, max_attempts=max_attempts, automation=automation))

    # ----------------------------------------------------------------- sync API

    def solve(self, problem: str, *, tests: Sequence[str] | None = None, thread_id: str | None = None) -> Solution:
        """Blocking `asolve`; works inside a running event loop too (runs in a worker thread)."""
        return run_sync(self.asolve(problem, tests=tests, thread_id=thread_id))

    def solve_many(
        self,
        problems: Sequence[str | Problem],
        *,
        executor: Executor = "local",
        concurrency: int = 4,
        ray: RayOptions | None = None,
        out: str | Path | None = None,
        resume: bool = False,
    ) -> list[BatchItem]:
        """Solve many problems, locally (this team, `concurrency` at once) or on Ray.

        Args:
            problems: problem texts (ids ``0``, ``1``, ...) or `Problem` values with their own ids.
            executor: ``local``, or ``ray``: one task per problem; the workers build their team from
                this config (and this model, when you passed one in), and open the store the config
                names, so share one with ``memory_url`` (``pip install "xolver[ray]"``).
            concurrency: problems at once, or tasks in flight on Ray.
            ray: the cluster and its limits (default: `RayOptions` with ``max_in_flight=concurrency``).
            out: append each `BatchItem` to this JSONL file as it finishes.
            resume: skip the ids `out` already holds a solution for.

        Returns:
            One `BatchItem` per problem, in order: its `Solution`, or the error that lost it.
        """
        return run_sync(
            self.asolve_many(problems, executor=executor, concurrency=concurrency, ray=ray, out=out, resume=resume)
        )

    async def asolve_many(
        self,
        problems: Sequence[str | Problem],
        *,
        executor: Executor = "local",
        concurrency: int = 4,
        ray: RayOptions | None = None,
        out: str | Path | None = None,
        resume: bool = False,
    ) -> list[BatchItem]:
        """`solve_many` from async code."""
        from xolver.batch.problems import Problem
        from xolver.batch.runner import run_batch

        items = [p if isinstance(p, Problem) else Problem(id=str(i), text=p) for i, p in enumerate(problems)]
        return await run_batch(items, self, out=out, resume=resume, executor=executor, concurrency=concurrency, ray=ray)

    def resume(self, thread_id: str) -> Solution:
        """Blocking `aresume`."""
        return run_sync(self.aresume(thread_id))

    def stream(
        self, problem: str, *, tests: Sequence[str] | None = None, thread_id: str | None = None
    ) -> Generator[Event, None, None]:
        """Blocking `astream`: events arrive as the solve produces them; stopping early (``break``,
        ``close()``) stops the solve."""
        return iterate_sync(self.astream(problem, tests=tests, thread_id=thread_id))

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Release what this `Xolver` opened: the model it built (e.g. the llama.cpp context) and
        the store it opened; a model or store passed in stays open."""
        self.runtime.close()

    def __enter__(self) -> Xolver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    @contextlib.asynccontextmanager
    async def _checkpointer(self, wanted: bool) -> AsyncIterator[Any]:
        path = self.config.checkpoint_path
        if path is not None:
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            async with AsyncSqliteSaver.from_conn_string(str(Path(path).expanduser())) as saver:
                yield saver
        elif wanted:
            if self._memory_saver is None:
                from langgraph.checkpoint.memory import InMemorySaver

                self._memory_saver = InMemorySaver()
            yield self._memory_saver
        else:
            yield None

    async def _run(
        self, graph_input: SolveState | None, *, thread_id: str | None, resume: bool
    ) -> AsyncIterator[Event]:
        async with self.runtime.solve_context(self.config) as context:
            started = time.monotonic()
            witness = _FailureWitness(context.model)
            context = dataclasses.replace(context, model=witness)
            async for event in self._run_graph(
                graph_input, context, thread_id=thread_id, resume=resume, started=started, seen=witness.errors
            ):
                yield event

    async def _run_graph(
        self,
        graph_input: SolveState | None,
        context: SolveContext,
        *,
        thread_id: str | None,
        resume: bool,
        started: float,
        seen: Sequence[ModelError] = (),
    ) -> AsyncIterator[Event]:
        cfg = self.config
        budget = context.budget
        async with self._checkpointer(wanted=thread_id is not None) as saver:
            if saver is not None and thread_id is None:
                thread_id = uuid.uuid4().hex
            graph = build_graph(checkpointer=saver)
            config: RunnableConfig = run_config(cfg, thread_id=thread_id)
            final: dict[str, Any] | None = None
            if resume:
                if saver is None:
                    raise UserError("resuming needs a checkpointer: set checkpoint_path (--checkpoint)")
                snapshot = await graph.aget_state(config)
                if not snapshot.values:
                    raise UserError(f"no checkpointed solve with thread id {thread_id!r}")
                spent = [CallRecord.model_validate(c) for c in snapshot.values.get("calls") or []]
                for call in spent:
                    budget.record(call)
                problem = snapshot.values.get("problem", "")
                if not snapshot.next:  # already finished: return it as it was
                    yield SolveFinished(solution=self._solution(snapshot.values, thread_id, 0.0))
                    return
            else:
                problem = graph_input["problem"] if graph_input else ""
            yield SolveStarted(
                problem=problem, model=self.model.name, agents=cfg.agents, rounds=cfg.total_rounds, thread_id=thread_id
            )
            async for mode, chunk in graph.astream(
                graph_input, config=config, context=context, stream_mode=["custom", "values"]
            ):
                if mode == "custom":
                    yield cast(Event, chunk)
                else:
                    final = cast(dict[str, Any], chunk)
            if final is None:  # pragma: no cover - LangGraph always emits the final values
                raise UserError("the solve produced no state")
            solution = self._solution(final, thread_id, time.monotonic() - started)
            _raise_if_nothing_answered(solution, seen)
            yield SolveFinished(solution=solution)

    def _solution(self, state: dict[str, Any], thread_id: str | None, seconds: float) -> Solution:
        return solution_from_state(
            state, model=self.model.name, answer_format=self.config.answer_format, thread_id=thread_id, seconds=seconds
        )

    def as_tool(self, *, name: str = "xolver_solve", description: str | None = None) -> Any:
        """This team as a LangChain tool (sync and async); see `xolver.integrations.langchain`."""
        from xolver.integrations.langchain import as_tool

        if description is None:
            return as_tool(self, name=name)
        return as_tool(self, name=name, description=description)


class _FailureWitness:
    """The solve's model, keeping the provider errors its calls raised (the last `KEPT`).

    A role's failure reaches the `Solution` as text (``"<where>: <Class>: <message>"``, so that
    checkpoints stay data); when every agent failed, the solve re-raises the failure as the error
    it was, with its `ModelError.kind` and status, from this record. Everything else is the model's.
    """

    KEPT = 32

    def __init__(self, model: Model) -> None:
        self._inner = model
        self.errors: list[ModelError] = []

    @property
    def name(self) -> str:
        return self._inner.name

    def __getattr__(self, attribute: str) -> Any:  # reasoning, supports_function_calling, for_role, ...
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return getattr(self._inner, attribute)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._seen(self._inner.complete(request))

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        if isinstance(self._inner, StreamingModel):
            return await self._seen(self._inner.complete_streaming(request, on_text))
        return await self._seen(self._inner.complete(request))

    async def _seen(self, call: Awaitable[ModelResponse]) -> ModelResponse:
        try:
            return await call
        except ModelError as e:
            self.errors.append(e)
            del self.errors[: -self.KEPT]
            raise


def _raise_if_nothing_answered(solution: Solution, seen: Sequence[ModelError] = ()) -> None:
    """A solve with an answer always returns it, failures recorded; one where every agent failed on
    the provider raises that failure, so a caller learns that the backend is down, not "no answer".

    The error is of the class and `ModelError.kind` of the last recorded failure, as the provider
    raised it (`seen`); a failure recorded before a resume is known by its class alone.
    """
    if solution.answer or not solution.failures:
        return
    if any(t.answer is not None for r in solution.rounds for t in r.trajectories):
        return
    last = solution.failures[-1]
    message = f"every model call of the solve failed; last: {last.split(': ', 2)[-1]}"
    error = next((e for e in reversed(seen) if last.endswith(f": {type(e).__name__}: {e}")), None)
    if isinstance(error, PermanentModelError):
        raise PermanentModelError(message, model=error.model, status=error.status, kind=error.kind) from error
    if isinstance(error, TransientModelError):
        raise TransientModelError(message, model=error.model, status=error.status, kind=error.kind) from error
    cls: type[ModelError] = PermanentModelError if ": PermanentModelError: " in last else TransientModelError
    raise cls(message)


async def _final(events: AsyncIterator[Event]) -> Solution:
    solution: Solution | None = None
    async for event in events:
        if isinstance(event, SolveFinished):
            solution = event.solution
    if solution is None:  # pragma: no cover - _run always ends with SolveFinished or raises
        raise UserError("the solve ended without a solution")
    return solution
