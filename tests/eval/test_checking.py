"""Answer checking: math equivalence (math-verify behind our own bound) and code run against tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from xolver.eval.checking import (
    Grade,
    answers_equivalent,
    check_answer,
    check_code,
    check_expression_answer,
    check_math,
    code_sandbox,
)
from xolver.eval.datasets import CodeTest, CodeTests, NumberPuzzle, Task, gsm8k_gold, load_dataset

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not present")


@pytest.mark.parametrize(
    ("candidate", "gold", "integer"),
    [
        ("\\frac12", "0.5", False),
        ("0.5", "\\frac{1}{2}", False),
        ("033", "33", True),
        ("\\boxed{033}", "33", True),
        ("1,000", "1000", False),
        ("$18$", "18", False),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)", False),
        ("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}", False),
        ("(x+1)^2", "x^2+2x+1", False),
        ("\\dfrac{3}{4}", "0.75", False),
    ],
)
def test_equivalent_answers_are_accepted(candidate: str, gold: str, integer: bool) -> None:
    assert check_math(candidate, gold, integer=integer).correct


@pytest.mark.parametrize(
    ("candidate", "gold", "integer"),
    [
        ("34", "33", True),
        ("34", "33", False),
        ("3.3", "33", True),
        ("[1,2)", "[1,2]", False),
        ("\\frac{1}{3}", "0.33", False),
        ("", "5", False),
        (None, "5", False),
    ],
)
def test_different_answers_are_rejected(candidate: str | None, gold: str, integer: bool) -> None:
    grade = check_math(candidate, gold, integer=integer)
    assert not grade.correct
    assert grade.score == 0.0


def test_math_verify_is_used_for_latex_and_runs_off_the_main_thread() -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        grades = list(pool.map(lambda c: check_math(c, "\\frac{\\pi}{4}"), ["\\pi/4", "\\frac{\\pi}{3}"]))
    assert [g.correct for g in grades] == [True, False]
    assert grades[0].method == "math_verify"


def test_answers_equivalent_groups_votes() -> None:
    assert answers_equivalent("\\frac12", "0.5")
    assert not answers_equivalent("1", "2")
    assert not answers_equivalent(None, "2")


def test_gsm8k_gold_is_the_number_after_hashes() -> None:
    assert gsm8k_gold("She makes 9 * 2 = $18\n#### 1,018") == "1018"
    with pytest.raises(ValueError):
        gsm8k_gold("no marker")


def _stdio_task() -> Task:
    tests = CodeTests(
        style="stdio",
        tests=(CodeTest("2\n", "4\n"), CodeTest("5\n", "10"), CodeTest("0\n", "0\n")),
    )
    return Task(id="double", problem="double it", kind="code", tests=tests, answer_format="code")


async def test_stdio_program_scored_by_fraction_of_tests() -> None:
    task = _stdio_task()
    assert task.tests is not None
    right = await check_code("n = int(input())\nprint(n * 2)   \n", task.tests)
    assert right.correct and right.passed == 3 and right.total == 3
    partial = await check_code("n = int(input())\nprint(n * 2 if n else 1)\n", task.tests)
    assert not partial.correct and partial.passed == 2 and partial.score == pytest.approx(2 / 3)


async def test_each_test_has_its_own_timeout() -> None:
    tests = CodeTests(
        style="assert",
        tests=(CodeTest("assert f(1) == 1"), CodeTest("assert f(0) == 0"), CodeTest("assert f(2) == 2")),
        entry_point="f",
    )
    program = "def f(x):\n    while x == 0:\n        pass\n    return x\n"
    grade = await check_code(program, tests, per_test_timeout=1.0)
    assert (grade.passed, grade.total) == (2, 3)
    assert "timed out" in grade.detail


async def test_program_that_prints_and_exits_cannot_fake_results() -> None:
    tests = CodeTests(style="assert", tests=(CodeTest("assert f() == 1"),), entry_point="f")
    program = "import sys\nprint('@@xolver-test-0 [0, true, \"\"]')\ndef f():\n    return 2\n"
    grade = await check_code(program, tests)
    assert grade.passed == 0


async def test_call_style_and_reply_with_code_block() -> None:
    tests = CodeTests(
        style="call",
        tests=(CodeTest("abba", True), CodeTest("abc", False), CodeTest("aacb\naabc", True)),
        entry_point="solve",
    )
    task = Task(id="t", problem="p", kind="code", tests=tests, answer_format="code")
    reply = "Here:\n```python\ndef solve(a, b=None):\n    return a == a[::-1] if b is None else True\n```\n"
    grade = await check_answer(task, reply)
    assert grade.correct, grade


async def test_check_answer_dispatches_math() -> None:
    task = Task(id="a", problem="p", kind="math", answer="33", integer_answer=True, answer_format="integer")
    assert (await check_answer(task, "033")).correct
    assert not (await check_answer(task, None)).correct


PUZZLE = NumberPuzzle((2, 5, 8, 11), 24)


@pytest.mark.parametrize(
    ("answer", "correct", "detail"),
    [
        ("(11 - 5) * 8 / 2", True, ""),
        ("\\boxed{(11-5) \\times 8 \\div 2}", True, ""),  # a boxed, typeset expression
        ("8 / 2 * (11 - 5) = 24", True, ""),  # the value written after it is not part of it
        ("(11 - 5) * 8 + 2", False, "(11 - 5) * 8 + 2 = 50, not 24"),
        ("(11 - 5) * 4", False, "it uses [4] not given and leaves out [2, 8]"),
        ("(11 - 5) * 8 / 2 / 1", False, "it uses [1] not given"),
        ("24", False, "it uses [24] not given"),  # the target itself is not an expression of the numbers
        ("", False, "no answer"),
    ],
)
def test_an_expression_is_right_only_when_it_uses_every_number_once_and_reaches_the_target(
    answer: str, correct: bool, detail: str
) -> None:
    grade = check_expression_answer(answer, PUZZLE)
    assert grade.correct is correct and grade.score == float(correct)
    assert grade.detail == detail if correct else detail in grade.detail
    assert grade.method == ("none" if not answer else "expression")


async def test_check_answer_grades_an_expression_task_by_its_puzzle() -> None:
    task = Task(id="0", problem="p", kind="expression", puzzle=PUZZLE, answer_format="text")
    assert task.answer is None and task.gold == "24 from 2 5 8 11"  # no gold expression: many are right
    assert (await check_answer(task, "\\boxed{(11-5)*8/2}")).correct
    assert not (await check_answer(task, "\\boxed{24}")).correct
    assert not (await check_answer(task, None)).correct


@needs_data
@pytest.mark.slow
async def test_humaneval_canonical_solutions_pass_and_empty_ones_fail() -> None:
    path = DATA / "humaneval" / "HumanEval.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        canonical = {row["task_id"]: row["canonical_solution"] for row in map(json.loads, handle)}
    tasks = load_dataset("humaneval", path).tasks
    import asyncio

    gate = asyncio.Semaphore(4)
    sandbox = code_sandbox(pool_size=2)

    async def grade(task: Task, body: str) -> Grade:
        assert task.tests is not None
        async with gate:
            return await check_answer(task, task.tests.prompt + body, sandbox=sandbox)

    try:
        good = await asyncio.gather(*(grade(t, canonical[t.id]) for t in tasks))
        empty = await asyncio.gather(*(grade(t, "    pass\n") for t in tasks))
    finally:
        await sandbox.aclose()
    assert sum(g.correct for g in good) == 164, [
        (t.id, g.detail) for t, g in zip(tasks, good, strict=True) if not g.correct
    ]
    assert sum(g.correct for g in empty) == 0
