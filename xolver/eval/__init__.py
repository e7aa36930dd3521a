"""Evaluation on real benchmarks: dataset loaders, answer checking, the eval runner and reports.

Names load on first access, so ``import xolver.eval`` (and the CLI, which imports ``xolver.eval.cli``)
stays cheap; math-verify, the sandbox and model backends load only when a check or a run needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xolver.eval.checking import (
        Grade,
        answers_equivalent,
        check_answer,
        check_code,
        check_expression_answer,
        check_math,
    )
    from xolver.eval.datasets import DATASETS, CodeTest, CodeTests, LoadedDataset, NumberPuzzle, Task, load_dataset
    from xolver.eval.runner import ProblemResult, RunConfig, read_results, run_eval, select_tasks

__all__ = [
    "DATASETS",
    "CodeTest",
    "CodeTests",
    "Grade",
    "LoadedDataset",
    "NumberPuzzle",
    "ProblemResult",
    "RunConfig",
    "Task",
    "answers_equivalent",
    "check_answer",
    "check_code",
    "check_expression_answer",
    "check_math",
    "load_dataset",
    "read_results",
    "run_eval",
    "select_tasks",
]

_WHERE = {
    **dict.fromkeys(
        ["Grade", "answers_equivalent", "check_answer", "check_code", "check_expression_answer", "check_math"],
        "checking",
    ),
    **dict.fromkeys(
        ["DATASETS", "CodeTest", "CodeTests", "LoadedDataset", "NumberPuzzle", "Task", "load_dataset"], "datasets"
    ),
    **dict.fromkeys(["ProblemResult", "RunConfig", "read_results", "run_eval", "select_tasks"], "runner"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xolver.eval' has no attribute {name!r}")
    return getattr(importlib.import_module(f"xolver.eval.{module}"), name)
