"""Batch solving: every problem of a JSONL file, locally or on Ray, one `Solution` per line.

Modules, one concept each:

- ``problems``: `Problem` and `read_problems` (the input file).
- ``records``: `BatchItem` (one output line), `BatchProgress` and the output file (append, fsync,
  ``--resume``).
- ``runner``: `run_batch`, the loop behind ``xolver batch`` and `Xolver.solve_many`.
- ``ray_executor``: `RayOptions` and `map_on_ray` (a pool of workers, problems in flight, retries,
  exactly-once results);
  it imports Ray only when a run asks for it (``pip install "xolver[ray]"``).
- ``progress``: the live progress line.
- ``cli``: ``xolver batch``.

Importing this package imports neither Ray nor the team.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xolver.batch.problems import Problem, read_problems
    from xolver.batch.ray_executor import RayOptions
    from xolver.batch.records import BatchItem, BatchProgress
    from xolver.batch.runner import Executor, run_batch

__all__ = ["BatchItem", "BatchProgress", "Executor", "Problem", "RayOptions", "read_problems", "run_batch"]

_WHERE = {
    "Problem": "xolver.batch.problems",
    "read_problems": "xolver.batch.problems",
    "RayOptions": "xolver.batch.ray_executor",
    "BatchItem": "xolver.batch.records",
    "BatchProgress": "xolver.batch.records",
    "Executor": "xolver.batch.runner",
    "run_batch": "xolver.batch.runner",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'xolver.batch' has no attribute {name!r}")
