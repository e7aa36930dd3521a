"""`run_batch`: solve many problems with one team, locally or on Ray, recording each once.

Locally, one `Xolver` (one model client, one store) solves up to ``concurrency`` problems at once on
this event loop. On Ray, a pool of worker processes solves them (`map_on_ray`): each worker builds
its own team from the config (and the caller's model, when the team was given one), once, and opens
the store the config names; ``memory_url`` makes that one memory on a Chroma server for every worker.

Whatever runs the problems, the driver writes each one's `BatchItem` to the output file exactly once,
as it finishes. A lost memory server stops the batch with `MemoryServerUnavailable` (the finished
problems are on disk; ``--resume`` continues); a provider failure loses only its problem.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from xolver.batch.problems import Problem
from xolver.batch.ray_executor import RayOptions, map_on_ray, run_in_worker_loop, team_token, worker_cached
from xolver.batch.records import BatchItem, BatchProgress, BatchWriter, read_output
from xolver.errors import ModelError, UserError
from xolver.memory.chroma._server import MemoryServerUnavailable

if TYPE_CHECKING:
    from xolver.api import Xolver
    from xolver.config import XolverConfig
    from xolver.models.base import Model

__all__ = ["Executor", "TeamSpec", "run_batch", "solve_in_worker"]

Executor = Literal["local", "ray"]


@dataclass(frozen=True)
class TeamSpec:
    """What a Ray worker builds its team from: the config, and the caller's model if there is one
    (None: the worker builds the model the config names)."""

    token: str
    config: XolverConfig
    model: Model | None = None


def _close(team: Any) -> None:
    team.close()


def _build(spec: TeamSpec) -> Xolver:
    from xolver.api import Xolver

    return Xolver(spec.model, config=spec.config)


async def _solve(team: Xolver, problem: Problem, index: int) -> BatchItem:
    """One problem's item; a provider or input failure becomes its error."""
    started = time.monotonic()
    try:
        solution = await team.asolve(problem.text, tests=list(problem.tests) or None)
    except MemoryServerUnavailable:
        raise
    except (ModelError, UserError) as e:
        return BatchItem(
            id=problem.id, index=index, error=f"{type(e).__name__}: {e}", seconds=round(time.monotonic() - started, 3)
        )
    return BatchItem(id=problem.id, index=index, solution=solution, seconds=round(time.monotonic() - started, 3))


def solve_in_worker(spec: TeamSpec, item: tuple[int, Problem]) -> dict[str, Any]:
    """Run on a Ray worker: solve one problem with the worker's team; the item as JSON, or ``fatal``."""
    index, problem = item
    team = worker_cached(spec.token, lambda: _build(spec), _close)
    try:
        result = run_in_worker_loop(_solve(team, problem, index))
    except MemoryServerUnavailable as e:
        return {"fatal": str(e)}
    return {"item": result.model_dump(mode="json")}


def _task_error(error: BaseException) -> str:
    """One line for a task that failed for good: Ray's exception type and its cause's last line."""
    cause = getattr(error, "cause", None)
    lines = [ln.strip() for ln in str(cause if cause is not None else error).splitlines() if ln.strip()]
    shown = lines[-1] if lines else type(error).__name__
    if cause is not None and not shown.startswith(type(cause).__name__):
        shown = f"{type(cause).__name__}: {shown}"
    return f"{type(error).__name__}: {shown}"


async def run_batch(
    problems: Sequence[Problem],
    team: Xolver,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    executor: Executor = "local",
    concurrency: int = 4,
    ray: RayOptions | None = None,
    on_result: Callable[[BatchItem, BatchProgress], None] | None = None,
) -> list[BatchItem]:
    """Solve `problems` with `team`, appending each `BatchItem` to `out` as it finishes.

    Args:
        problems: the problems, in order; ids must be distinct.
        team: the team (locally it solves them; on Ray its config, and its model when the caller
            gave it one, are shipped to the workers).
        out: the JSONL output file (None: keep the items in memory only).
        resume: skip the ids `out` already holds a solution for (without it, an existing non-empty
            `out` is refused).
        executor: ``local`` (this process) or ``ray`` (one task per problem).
        concurrency: problems solved at once (local) or tasks in flight (Ray, unless `ray` says).
        ray: cluster, retries and task size (default `RayOptions` with ``max_in_flight=concurrency``).
        on_result: called after each problem, resumed ones included, with the running totals.

    Returns:
        Every item of the batch in input order, resumed ones included.

    Raises:
        UserError: `out` exists without `resume`; Ray is missing or unreachable.
        MemoryServerUnavailable: the memory server went away (finished items are in `out`).
    """
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        raise UserError("problem ids must be distinct")
    done: dict[str, BatchItem] = {}
    writer: BatchWriter | None = None
    if out is not None:
        path = Path(out).expanduser()
        if path.is_file() and path.stat().st_size > 0 and not resume:
            raise UserError(
                f"{str(path)!r} already exists: pass --resume to continue that batch, or choose another --out"
            )
        done = {k: v for k, v in read_output(path).items() if v.solution is not None} if resume else {}
        writer = BatchWriter(path)
    progress = BatchProgress(total=len(problems))
    results: dict[str, BatchItem] = {}

    def record(item: BatchItem) -> None:
        if item.id in results:  # exactly once, whatever retried
            return
        results[item.id] = item
        if writer is not None:
            writer.write(item)
        progress.add(item)
        if on_result is not None:
            on_result(item, progress)

    for problem in problems:
        if problem.id in done:
            results[problem.id] = done[problem.id]
            progress.add(done[problem.id])
            progress.resumed += 1
            if on_result is not None:
                on_result(done[problem.id], progress)
    todo = [(i, p) for i, p in enumerate(problems) if p.id not in done]
    try:
        if executor == "local":
            await _run_local(team, todo, concurrency, record)
        else:
            await _run_ray(team, todo, ray or RayOptions(max_in_flight=concurrency), record)
    finally:
        if writer is not None:
            writer.close()
    return [results[p.id] for p in problems if p.id in results]


async def _run_local(
    team: Xolver, todo: list[tuple[int, Problem]], concurrency: int, record: Callable[[BatchItem], None]
) -> None:
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, problem: Problem) -> None:
        async with gate:
            item = await _solve(team, problem, index)
        record(item)

    jobs = [asyncio.ensure_future(one(i, p)) for i, p in todo]
    try:
        await asyncio.gather(*jobs)
    finally:
        # On an error or an interrupt, stop the problems in flight before the file closes.
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


async def _run_ray(
    team: Xolver, todo: list[tuple[int, Problem]], options: RayOptions, record: Callable[[BatchItem], None]
) -> None:
    model = None if team.runtime.owns_model else team.model
    # A caller's model object is shipped with the batch and may change between batches: a team of its own.
    token = team_token(team.config) if model is None else uuid.uuid4().hex
    spec = TeamSpec(token=token, config=team.config, model=model)
    by_index = dict(todo)

    def done(index: int, payload: dict[str, Any]) -> None:
        if "fatal" in payload:
            raise MemoryServerUnavailable(str(payload["fatal"]))
        record(BatchItem.model_validate(payload["item"]))

    def failed(index: int, error: BaseException) -> None:
        problem = by_index[index]
        record(BatchItem(id=problem.id, index=index, error=_task_error(error)))

    items = [(i, (i, p)) for i, p in todo]
    await map_on_ray(solve_in_worker, spec, items, options, on_done=done, on_failed=failed)
