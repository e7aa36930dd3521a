"""Eval problems on Ray: what a worker builds (`EvalSpec`) and runs (`eval_in_worker`).

Each worker builds its model client (from the config, or the caller's model when one was shipped),
its store and, for code tasks, its sandbox once per run, and solves and grades its problems with the
same `_solve_one` a local run uses; the driver writes each result once (`xolver.batch.ray_executor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xolver.batch.ray_executor import RayOptions, run_in_worker_loop, worker_cached
from xolver.eval.datasets import Task
from xolver.eval.records import RunConfig

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.memory.stores import StoreSpec
    from xolver.models.base import Model

__all__ = ["EvalSpec", "RemoteEval", "eval_in_worker"]


@dataclass(frozen=True)
class RemoteEval:
    """An eval on Ray.

    Attributes:
        options: the cluster and its limits.
        model_config: the workers build the model it names (None: the run's model object is shipped).
        memory: the store each worker opens (None: none); a ``memory_url`` spec is one shared memory.
    """

    options: RayOptions
    model_config: XolverConfig | None = None
    memory: StoreSpec | None = None


@dataclass(frozen=True)
class EvalSpec:
    token: str
    config: RunConfig
    xolver_config: XolverConfig | None
    model_config: XolverConfig | None
    model: Model | None
    memory: StoreSpec | None
    code: bool


class _Worker:
    def __init__(self, spec: EvalSpec) -> None:
        from xolver.config import XolverConfig
        from xolver.eval.methods import MethodSolver
        from xolver.runtime import SolveRuntime

        base = spec.model_config or spec.xolver_config or XolverConfig()
        self.runtime = SolveRuntime(base, model=spec.model, memory=spec.memory)
        memory = self.runtime.open_memory()
        self.solver = MethodSolver(
            config=spec.config, model=self.runtime.model, xolver_config=spec.xolver_config, memory=memory
        )
        self.sandbox: Any = None
        if spec.code:
            from xolver.eval.checking import code_sandbox

            self.sandbox = code_sandbox(pool_size=1)

    def close(self) -> None:
        if self.sandbox is not None:
            run_in_worker_loop(self.sandbox.aclose())
        self.runtime.close()


def eval_in_worker(spec: EvalSpec, item: tuple[int, Task]) -> dict[str, Any]:
    """Run on a Ray worker: solve and grade one task with this worker's method; the result as JSON."""
    from xolver.eval.runner import _solve_one

    index, task = item
    worker = worker_cached(spec.token, lambda: _Worker(spec), _Worker.close)
    result = run_in_worker_loop(_solve_one(worker.solver, task, index, worker.sandbox))
    return result.model_dump(mode="json")
