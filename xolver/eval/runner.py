"""The eval loop: solve tasks with a method, grade them, append each result to a JSONL file.

A results file starts with one ``{"type": "config", ...}`` line holding the exact `RunConfig` (model,
seed, temperature, dataset SHA-256, method, team), followed by one ``{"type": "result", ...}`` line per
problem, written (and flushed to disk) as soon as that problem is graded. An interrupted run loses
only the problems in flight; ``resume=True`` skips every id already recorded without an error.

Methods, all through the same `Model`:
    ``xolver``            the full team (`Xolver.asolve`).
    ``single``            one chain-of-thought call (greedy by default).
    ``self-consistency``  N sampled chain-of-thought calls and a majority vote, answers grouped with
                          the same checker that grades them (so ``0.5`` and ``\\frac12`` vote together).
    ``prove``             Lean 4 theorems (miniF2F, ProofNet): the prover's search, graded by the sound
                          Lean checker (`xolver.eval.proving`); accuracy is pass@budget.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xolver.errors import ModelError, UserError
from xolver.eval.checking import Grade, check_answer
from xolver.eval.datasets import Task
from xolver.eval.methods import Attempt, MethodSolver, baseline_prompt
from xolver.eval.records import METHODS, CandidateResult, Method, ProblemResult, RunConfig

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.eval.remote import RemoteEval
    from xolver.memory.base import ExperienceStore
    from xolver.models.base import Model
    from xolver.tools.sandbox import PythonSandbox

__all__ = [
    "METHODS",
    "CandidateResult",
    "EvalProgress",
    "Method",
    "ProblemResult",
    "RunConfig",
    "SavedRun",
    "baseline_prompt",
    "read_results",
    "run_eval",
    "select_tasks",
]


@dataclass
class EvalProgress:
    """Running totals of a run, updated after every problem (what the live display shows)."""

    total: int
    done: int = 0
    correct: int = 0
    errors: int = 0
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    resumed: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def accuracy(self) -> float:
        return self.correct / self.done if self.done else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at this session's pace (None before the first problem finishes)."""
        fresh = self.done - self.resumed
        if fresh <= 0:
            return None
        return self.elapsed / fresh * (self.total - self.done)

    def add(self, result: ProblemResult) -> None:
        self.done += 1
        self.correct += int(result.correct)
        self.errors += int(result.error is not None)
        self.calls += result.calls
        self.tokens += result.tokens
        self.cost += result.cost


@dataclass(frozen=True)
class SavedRun:
    """A results file read back: its config and the last result recorded for each id."""

    path: str
    config: RunConfig
    results: list[ProblemResult]
    bad_lines: list[int] = field(default_factory=list)


def select_tasks(tasks: Sequence[Task], *, limit: int | None, seed: int, shuffle: bool) -> list[Task]:
    """The tasks of a run: the first `limit` (after a seeded shuffle when `shuffle`)."""
    chosen = list(tasks)
    if shuffle:
        random.Random(seed).shuffle(chosen)
    return chosen[:limit] if limit is not None else chosen


def read_results(path: str | Path) -> SavedRun:
    """Read a results file; lines that do not parse (e.g. cut by a kill) are listed in `bad_lines`.

    Raises:
        UserError: the file is missing, unreadable, or has no config line.
    """
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"results file not found: {str(file)!r}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read results file {str(file)!r}: {e}") from e
    config: RunConfig | None = None
    latest: dict[str, ProblemResult] = {}
    bad: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record.get("type")
            if kind == "config" and config is None:
                config = RunConfig.model_validate(record["config"])
            elif kind == "result":
                result = ProblemResult.model_validate(record)
                latest[result.id] = result
            else:
                bad.append(number)
        except (ValueError, KeyError, AttributeError, TypeError):
            bad.append(number)
    if config is None:
        raise UserError(f"{str(file)!r} is not an xolver eval results file (no config line)")
    ordered = sorted(latest.values(), key=lambda r: r.index)
    return SavedRun(path=str(file), config=config, results=ordered, bad_lines=bad)


class _ResultsWriter:
    """Appends JSON lines and forces each to disk, so a killed run keeps every finished problem."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A run killed mid-write can leave a partial last line: start ours on a fresh one.
        needs_newline = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
        self._handle = path.open("a", encoding="utf-8")
        if needs_newline:
            self._handle.write("\n")

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def _open_results(out: Path, config: RunConfig, *, resume: bool) -> tuple[_ResultsWriter, dict[str, ProblemResult]]:
    done: dict[str, ProblemResult] = {}
    exists = out.is_file() and out.stat().st_size > 0
    if exists and not resume:
        raise UserError(f"{str(out)!r} already exists: pass --resume to continue that run, or choose another --out")
    if exists:
        saved = read_results(out)
        differ = saved.config.differences(config)
        if differ:
            detail = ", ".join(f"{k}={getattr(saved.config, k)!r} (now {getattr(config, k)!r})" for k in differ)
            raise UserError(f"cannot resume {str(out)!r}: it was run with {detail}")
        done = {r.id: r for r in saved.results if r.error is None}
    writer = _ResultsWriter(out)
    if not exists:
        writer.write({"type": "config", "config": config.model_dump(mode="json")})
    return writer, done


async def _solve_one(solver: MethodSolver, task: Task, index: int, sandbox: PythonSandbox | None) -> ProblemResult:
    started = time.monotonic()
    error: str | None = None
    try:
        attempt = await solver.attempt(task, index)
    except ModelError as e:
        # A provider failure loses this problem, not the run; --resume retries it.
        attempt, error = Attempt(answer=None), f"{type(e).__name__}: {e}"
    grade = (
        await check_answer(task, attempt.answer, sandbox=sandbox)
        if attempt.answer
        else Grade(False, 0.0, "none", detail="no answer")
    )
    graded: dict[str, bool] = {}
    for c in attempt.candidates:
        if c.answer and task.kind in ("math", "expression"):
            if c.answer not in graded:
                graded[c.answer] = (await check_answer(task, c.answer, sandbox=sandbox)).correct
            c.correct = graded[c.answer]
    return ProblemResult(
        id=task.id,
        index=index,
        candidates=attempt.candidates,
        correct=grade.correct,
        score=grade.score,
        answer=attempt.answer,
        gold=task.gold,
        check=grade.method,
        check_detail=grade.detail,
        tests_passed=grade.passed,
        tests_total=grade.total,
        calls=attempt.calls,
        prompt_tokens=attempt.prompt_tokens,
        completion_tokens=attempt.completion_tokens,
        cost=attempt.cost,
        wall_seconds=round(time.monotonic() - started, 3),
        votes=attempt.votes,
        stop_reason=attempt.stop_reason,
        verifier_checked=attempt.checked,
        verifier_check=attempt.checked_how,
        calls_by_role=attempt.by_role,
        error=error,
    )


async def run_eval(
    tasks: Sequence[Task],
    config: RunConfig,
    *,
    model: Model,
    xolver_config: XolverConfig | None = None,
    memory: ExperienceStore | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    on_result: Callable[[ProblemResult, EvalProgress], None] | None = None,
    remote: RemoteEval | None = None,
) -> list[ProblemResult]:
    """Solve and grade `tasks` with ``config.method``, appending each result to `out`.

    Args:
        tasks: the tasks of the run, in order (see `select_tasks`).
        config: the run's settings, written as the results file's first line.
        model: the model every method calls.
        xolver_config: the team's settings (method ``xolver``); its ``answer_format`` is set per task.
        memory: the team's episodic memory (``None``: none); shared by all problems, so a ``learn``
            run grows it as it goes.
        out: the JSONL results file (``None``: keep results in memory only).
        resume: continue the run in `out`, skipping ids already recorded without an error.
        on_result: called after each problem (including those skipped by `resume`) with the
            result and the running totals.
        remote: run the problems on Ray instead (`xolver.eval.remote`); ``config.concurrency``
            is then ignored for the tasks in flight (``remote.options.max_in_flight`` counts).

    Returns:
        Every result of the run in task order, resumed ones included.

    Raises:
        UserError: `out` exists and `resume` is false, or it was written with another config.
    """
    if config.method == "xolver" and xolver_config is None:
        raise UserError("method 'xolver' needs an XolverConfig")
    if config.method == "self-consistency" and not config.samples:
        raise UserError("method 'self-consistency' needs samples >= 1")
    proofs = [t for t in tasks if t.kind == "proof"]
    if config.method == "prove":
        if xolver_config is None:
            raise UserError("method 'prove' needs an XolverConfig (its Lean toolchain and budgets)")
        if len(proofs) != len(tasks):
            raise UserError("method 'prove' needs Lean theorem tasks (--dataset minif2f or proofnet)")
        if remote is not None:
            raise UserError("method 'prove' does not run on Ray yet; run it without --ray")
    elif proofs:
        raise UserError(f"{config.dataset} tasks are Lean theorems: evaluate them with --method prove")
    writer: _ResultsWriter | None = None
    done: dict[str, ProblemResult] = {}
    if out is not None:
        writer, done = _open_results(Path(out).expanduser(), config, resume=resume)
    progress = EvalProgress(total=len(tasks))
    results: dict[str, ProblemResult] = {}
    for task in tasks:
        if task.id in done:
            results[task.id] = done[task.id]
            progress.add(done[task.id])
            progress.resumed += 1
            if on_result is not None:
                on_result(done[task.id], progress)

    def record(result: ProblemResult) -> None:
        if result.id in results:  # once, whatever a cluster retried
            return
        results[result.id] = result
        if writer is not None:
            writer.write({"type": "result", **result.model_dump(mode="json")})
        progress.add(result)
        if on_result is not None:
            on_result(result, progress)

    if remote is not None:
        try:
            await _run_remote(tasks, done, config, xolver_config, model, remote, record)
        finally:
            if writer is not None:
                writer.close()
        return [results[t.id] for t in tasks if t.id in results]
    solver = MethodSolver(config=config, model=model, xolver_config=xolver_config, memory=memory)
    sandbox = None
    if any(t.kind == "code" for t in tasks):
        from xolver.eval.checking import code_sandbox

        sandbox = code_sandbox(pool_size=min(2, config.concurrency))
    gate = asyncio.Semaphore(max(1, config.concurrency))

    async def one(index: int, task: Task) -> None:
        async with gate:
            if config.method == "prove":
                from xolver.eval.proving import prove_task

                assert xolver_config is not None  # checked above
                result = await prove_task(task, index, model=model, config=config, xolver_config=xolver_config)
            else:
                result = await _solve_one(solver, task, index, sandbox)
        record(result)

    jobs = [asyncio.ensure_future(one(i, t)) for i, t in enumerate(tasks) if t.id not in done]
    try:
        await asyncio.gather(*jobs)
    finally:
        # On an error or an interrupt, stop the problems in flight before the file closes.
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        if writer is not None:
            writer.close()
        if sandbox is not None:
            await sandbox.aclose()
    return [results[t.id] for t in tasks if t.id in results]


async def _run_remote(
    tasks: Sequence[Task],
    done: dict[str, ProblemResult],
    config: RunConfig,
    xolver_config: XolverConfig | None,
    model: Model,
    remote: RemoteEval,
    record: Callable[[ProblemResult], None],
) -> None:
    import uuid

    from xolver.batch.ray_executor import map_on_ray, team_token
    from xolver.eval.remote import EvalSpec, eval_in_worker

    shipped = None if remote.model_config is not None else model
    code = any(t.kind == "code" for t in tasks)
    # Workers keep their method between runs with the same settings; a shipped model object gets its own.
    parts = (config, xolver_config, remote.model_config, remote.memory, code)
    token = team_token(*parts) if shipped is None else uuid.uuid4().hex
    spec = EvalSpec(
        token=token,
        config=config,
        xolver_config=xolver_config,
        model_config=remote.model_config,
        model=shipped,
        memory=remote.memory,
        code=code,
    )
    todo = [(i, (i, t)) for i, t in enumerate(tasks) if t.id not in done]

    def failed(index: int, error: BaseException) -> None:
        task = tasks[index]
        lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
        reason = f"{type(error).__name__}: {lines[-1] if lines else ''}"
        record(ProblemResult(id=task.id, index=index, correct=False, score=0.0, gold=task.gold, error=reason))

    await map_on_ray(
        eval_in_worker,
        spec,
        todo,
        remote.options,
        on_done=lambda _i, payload: record(ProblemResult.model_validate(payload)),
        on_failed=failed,
    )
