"""Code tasks: the judge scores by tests run in the real sandbox; the verifier debugs."""

from __future__ import annotations

from tests._support.scripts import PLAN
from xolver import Xolver
from xolver.models.testing import ScriptedModel

PROBLEM = "Write a Python function add(a, b) that returns the sum of a and b."
GOOD = "Thought: easy\nResponse: adds\nFinal answer:\n```python\ndef add(a, b):\n    return a + b\n```"
WRONG = "Final answer:\n```python\ndef add(a, b):\n    return a - b\n```"
CRASH = "Final answer:\n```python\ndef add(a, b):\n    return a + c\n```"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
SYNTH = "```python\nassert add(2, 2) == 4\nassert add(0, 0) == 0\nthis is not python\n```"


def test_judge_scores_by_tests_passed_and_the_best_program_wins() -> None:
    with ScriptedModel({"planner": [PLAN], "judge": [SYNTH], "solver": [GOOD, WRONG, CRASH]}) as model:
        solution = Xolver(model, agents=3, rounds=0, answer_format="code", memory=None).solve(PROBLEM, tests=TESTS)
    assert solution.synthesized_tests == ["assert add(2, 2) == 4", "assert add(0, 0) == 0"]
    by_agent = {t.agent: t for t in solution.rounds[0].trajectories}
    assert by_agent[0].score == 1.0 and all(o.passed for o in by_agent[0].tests)
    # a - b passes only add(0, 0) == 0 of the four tests
    assert by_agent[1].score == 0.25 and "first failing test" in by_agent[1].critique
    assert by_agent[2].score == 0.0 and "NameError" in by_agent[2].critique
    assert "return a + b" in solution.answer
    assert solution.checked and solution.check == "passed 2/2 given tests"
    # no judge model call was spent on scoring: only the test writer
    assert [c.purpose for c in solution.usage.calls if c.role == "judge"] == ["write_tests"]


def test_debugger_repairs_a_program_that_fails_a_given_test() -> None:
    fixed = "```python\ndef add(a, b):\n    return a + b\n```"
    with ScriptedModel({"planner": [PLAN], "solver": [CRASH], "verifier": [fixed]}) as model:
        solution = Xolver(model, agents=1, rounds=0, answer_format="code", synthesize_tests=0, memory=None).solve(
            PROBLEM, tests=TESTS
        )
    assert "return a + b" in solution.answer
    assert solution.checked and solution.check.startswith("passed 2/2 given tests after 1 debugger call")


def test_checked_means_an_executed_program_computed_the_answer_never_a_token_match() -> None:
    # A reasoning agent whose snippet prints its answer is a token match: not checked.
    reply = "```python\nprint(6 * 7)\n```\nFinal answer: \\boxed{42}"
    with ScriptedModel({"planner": [PLAN], "solver": [reply]}) as model:
        solution = Xolver(model, agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None).solve(
            "How many eggs in 6 rows of 7?"
        )
    assert solution.answer == "42" and not solution.checked and solution.check_kind is None
    # A program seat's program computed it: checked, and the Solution says which check.
    program = "Thought: multiply\n```python\nprint(6 * 7)\n```"
    with ScriptedModel({"planner": [PLAN], "solver": [program]}) as model:
        solution = Xolver(model, agents=1, rounds=0, methods=["program"], blind_check=False, memory=None).solve(
            "How many eggs in 6 rows of 7?"
        )
    assert solution.answer == "42" and solution.checked and solution.check_kind == "program"
    assert "its program printed 42" in solution.check
