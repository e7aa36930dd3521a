"""Evaluation on real benchmarks: dataset loaders, answer checking, the eval runner and reports.

Importing this package is cheap: math-verify, the sandbox and model backends load on first use.
"""

from __future__ import annotations

from xolver.eval.checking import Grade, answers_equivalent, check_answer, check_code, check_math
from xolver.eval.datasets import DATASETS, CodeTest, CodeTests, LoadedDataset, Task, load_dataset

__all__ = [
    "DATASETS",
    "CodeTest",
    "CodeTests",
    "Grade",
    "LoadedDataset",
    "Task",
    "answers_equivalent",
    "check_answer",
    "check_code",
    "check_math",
    "load_dataset",
]
