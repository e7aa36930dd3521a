"""Exact arithmetic checks: "use these numbers to obtain N" (Game of 24), problems that are only an
expression ("What is 17 * 23?"), and their use by the judge."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from xolver.agents.judge import expression_check
from xolver.solution import Trajectory
from xolver.tools.arithmetic import (
    arithmetic_question,
    arithmetic_slips,
    asks_for_expression,
    check_expression,
    check_value,
    number_target,
)

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
    # The problem asks for an expression of the numbers ("each number exactly once"): a bare number,
    # the target's value above all, is refuted, whoever gives it. Where the problem does not say so,
    # a number is left unjudged.
    for bare in ("24", "\\boxed{24}", "2.3"):
        plain = wrong.model_copy(update={"answer": bare})
        refuted = expression_check(PROBLEM.format("4 4 7 10"), plain)
        assert refuted is not None and not refuted.agrees and not refuted.settles
        assert "is a number, not an expression" in refuted.detail and "[4, 4, 7, 10]" in refuted.detail
    assert not asks_for_expression("Use numbers 1, 2, 3 and 4 to make 10.")
    unsaid = wrong.model_copy(update={"answer": "10"})
    assert expression_check("Use numbers 1, 2, 3 and 4 to make 10.", unsaid) is None


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


@pytest.mark.parametrize(
    ("problem", "expression", "value"),
    [
        ("What is 17 * 23?", "17 * 23", Fraction(391)),
        ("Compute (3 + 4) * 5.", "(3 + 4) * 5", Fraction(35)),
        ("Evaluate $2^{10} - 1$", "2^(10) - 1", Fraction(1023)),
        ("Compute $\\frac{3}{4} \\cdot 8$.", "((3)/(4)) * 8", Fraction(6)),
        ("what's 10 ÷ 4", "10 / 4", Fraction(5, 2)),
        ("What is 0.1 + 0.2?", "0.1 + 0.2", Fraction(3, 10)),  # decimals as written, not binary floats
        ("What is -3 + 4 * 2?", "-3 + 4 * 2", Fraction(5)),
    ],
)
def test_a_problem_that_is_only_an_expression_has_an_exact_value(
    problem: str, expression: str, value: Fraction
) -> None:
    assert arithmetic_question(problem) == (expression, value)


@pytest.mark.parametrize(
    "problem",
    [
        "What is 17 * 23 apples?",  # units: about more than the expression
        "Natalia sold clips to 48 of her friends in April, and half as many in May. How many in all?",
        "Find x if x + 3 = 5.",  # an unknown
        "What is 5?",  # no operation
        "What is 2 ** 1000000?",  # too large to evaluate exactly: no claim
        "What is 9^9^9?",
        "What is 1 / 0?",
        "Is 17 * 23 = 391?",  # a claim, not a value to compute
        "Compute $\\sqrt{2} + 1$.",  # beyond + - * / ^: no claim
        "What is __import__('os')?",
    ],
)
def test_other_problems_make_no_claim(problem: str) -> None:
    assert arithmetic_question(problem) is None


def test_an_answer_is_checked_against_the_exact_value() -> None:
    question = arithmetic_question("What is 17 * 23?")
    assert question is not None
    assert [check_value(a, *question).verdict for a in ("391", "391.0", "\\boxed{391}", "3.91e2")] == ["holds"] * 4
    wrong = check_value("381", *question)
    assert wrong.verdict == "fails" and wrong.detail == "17 * 23 = 391 exactly, not 381"
    assert check_value("a lot", *question).verdict == "error"
    third = arithmetic_question("What is 10 / 3?")
    assert third is not None
    assert check_value("10/3", *third).verdict == "holds" and check_value("3.3333333333", *third).verdict == "holds"
    assert check_value("3.33", *third).verdict == "fails"  # rounded too far to be the exact value


def test_the_judge_settles_an_arithmetic_question_exactly() -> None:
    right = Trajectory(agent=0, role="r", round=0, answer="391")
    check = expression_check("What is 17 * 23?", right)
    assert check is not None and check.agrees and check.settles and check.kind == "substitution"
    wrong = expression_check("What is 17 * 23?", right.model_copy(update={"answer": "381"}))
    assert wrong is not None and not wrong.agrees and "not 381" in wrong.detail
    # A word problem is not settled by arithmetic on its numbers.
    assert expression_check("A crate holds 17 boxes of 23 apples. How many apples?", right) is None


@pytest.mark.parametrize(
    ("chain", "slip"),
    [
        ("She has 3 * 4 = 12 apples and 12 + 5 = 18 pears.", "12 + 5 is 17, not 18"),
        ("10 / 3 = 5", "10 / 3 is 3.33333, not 5"),
        ("5 x 3 = 16 chairs", "5 * 3 is 15, not 16"),
        ("$3.5 \\times 2 = \\$7.10$", "3.5 * 2 is 7, not 7.10"),
        ("5*8 = 40\n40 + 2 = 44", "40 + 2 is 42, not 44"),
        ("2^10 = 1000", "2^10 is 1024, not 1000"),
        ("**2 + 2 = 5**", "2 + 2 is 4, not 5"),
        ("so (3 + 4 = 8)", "3 + 4 is 7, not 8"),
        ("\\frac{3}{4} \\cdot 8 = 5", "((3)/(4)) * 8 is 6, not 5"),
        ("1,000 - 250 = 705", "1000 - 250 is 750, not 705"),
    ],
)
def test_a_false_calculation_in_a_chain_is_a_slip(chain: str, slip: str) -> None:
    assert arithmetic_slips(chain) == [slip]


@pytest.mark.parametrize(
    "chain",
    [
        "3 + 4 = 7 + 2 = 9",  # a running chain, each link true
        "5 * 3 = 3 * 5 = 15",
        "total = 5 * 3 = 15",
        "10 / 3 = 3.33",  # rounded to the decimals shown
        "10/3 = 3 full boxes",  # rounded to a whole number
        "12.50 * 2 = 25.00",
        "2x + 3 = 7",  # algebra, not arithmetic
        "x^2 + 3 = 12",
        "a_1 + 2 = 5",
        "f(2) + 3 = 9",
        "20% * 50 = 10",  # a percent sign is not read
        "100 - 20 = 80%",
        "-3 + 5 = 2",
        "x = 5",
        "if a == 3 + 4 then",
        "5 + 3 <= 9",
    ],
)
def test_true_or_unreadable_statements_are_not_slips(chain: str) -> None:
    assert arithmetic_slips(chain) == []


def test_slips_are_capped() -> None:
    assert len(arithmetic_slips(" ".join(f"{n} + 1 = 0." for n in range(10)), limit=3)) == 3
