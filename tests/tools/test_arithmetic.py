"""Exact expression checks for "use these numbers to obtain N" (Game of 24), and their use by the judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xolver.agents.judge import expression_check
from xolver.solution import Trajectory
from xolver.tools.arithmetic import check_expression, number_target

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gameof24" / "gameof24.jsonl"
PROBLEM = "Use the numbers {} and basic arithmetic operations (+ - * /) to obtain 24. Use each number exactly once."


def test_problem_shape() -> None:
    assert number_target(PROBLEM.format("4 4 7 10")) == ([4, 4, 7, 10], 24)
    assert number_target("Use numbers 1, 2, 3 and 4 to make 10.") == ([1, 2, 3, 4], 10)
    assert number_target("Natalia sold clips to 48 of her friends in April. How many?") is None


@pytest.mark.parametrize(
    ("answer", "verdict", "says"),
    [
        ("8 / (3 - 8 / 3)", "holds", "exactly"),  # 24 only in exact arithmetic
        ("(8 / 3 - 3) * 8", "fails", "= -8/3"),
        ("(3 + 3) * 8 / 2", "fails", "uses [2] not given and leaves out [8]"),
        ("3 * 8 = 24", "fails", "leaves out [3, 8]"),
        ("8 / (3 - 3) + 8", "fails", "divides by zero"),
        ("__import__('os')", "error", "not an arithmetic expression"),
        ("2 ** 3 * 3", "error", "only whole numbers"),
    ],
)
def test_check_expression(answer: str, verdict: str, says: str) -> None:
    result = check_expression(answer, [3, 3, 8, 8], 24)
    assert result.verdict == verdict and says in result.detail


def test_latex_operators_are_read() -> None:
    assert check_expression("(11 - 5) \\times 8 \\div 2", [2, 5, 8, 11], 24).verdict == "holds"
    assert check_expression("$(11 - 5) * 8 / 2 = 24$", [2, 5, 8, 11], 24).verdict == "holds"


def test_the_judge_refutes_a_wrong_expression_with_the_exact_value() -> None:
    wrong = Trajectory(agent=0, role="r", round=0, answer="(10 - 4) * (7 - 4)")
    check = expression_check(PROBLEM.format("4 4 7 10"), wrong)
    assert check is not None and not check.agrees and "= 18, not 24" in check.detail
    right = wrong.model_copy(update={"answer": "(10 - 4) * (7 - 4) + 4 + 2"})
    assert (c := expression_check(PROBLEM.format("2 4 4 7 10"), right)) is not None and not c.agrees
    good = wrong.model_copy(update={"answer": "4 * (10 - 7) * ... "})
    assert expression_check(PROBLEM.format("4 4 7 10"), good) is None  # not an expression: no verdict
    plain = wrong.model_copy(update={"answer": "24"})
    assert expression_check(PROBLEM.format("4 4 7 10"), plain) is None


@pytest.mark.skipif(not DATA.is_file(), reason="shared data not present")
def test_every_shared_game_of_24_puzzle_parses_and_a_brute_force_solution_checks() -> None:
    from itertools import permutations, product

    def solve(nums: list[int]) -> str | None:
        forms = (
            "(({}{}{}){}{}){}{}",
            "({}{}{}){}({}{}{})",
            "({}{}({}{}{})){}{}",
            "{}{}(({}{}{}){}{})",
            "{}{}({}{}({}{}{}))",
        )
        for a, b, c, d in permutations(nums):
            for o1, o2, o3 in product("+-*/", repeat=3):
                for form in forms:
                    expr = form.format(a, o1, b, o2, c, o3, d)
                    if check_expression(expr, nums, 24).verdict == "holds":
                        return expr
        return None

    rows = [json.loads(line) for line in DATA.read_text().splitlines()[:10]]
    for row in rows:
        task = number_target(PROBLEM.format(row["input"]))
        assert task is not None and task[1] == int(row["target"])
        expr = solve(task[0])
        assert expr is not None, row
