"""Solvers run Python in the real sandbox and answer with its output."""

from __future__ import annotations

from tests.core.scripts import PLAN, verdict
from xolver import Xolver
from xolver.events import ToolCalled
from xolver.models.testing import ScriptedModel

CODE = "Thought: let me compute it.\n```python\nprint(17 * 23)\n```"


def test_solver_runs_python_and_answers_with_its_output() -> None:
    with ScriptedModel(
        {
            "planner": [PLAN],
            "solver": [CODE, "Thought: the code printed 391.\nFinal answer: \\boxed{391}"],
            "judge": [verdict(1)],
        }
    ) as model:
        xo = Xolver(model, agents=1, rounds=0, memory=None)
        events = list(xo.stream("What is 17 * 23?"))
    solution = events[-1].solution  # type: ignore[union-attr]
    assert solution.answer == "391"
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert (call.tool, call.ok, call.output.strip()) == ("python", True, "391")
    follow_up = model.requests[2].messages[-1].content
    assert "Output:" in follow_up and "391" in follow_up
    assert [e.call.output.strip() for e in events if isinstance(e, ToolCalled)] == ["391"]
    assert [c.purpose for c in solution.usage.calls if c.role == "solver"] == ["answer", "tool1"]
    # the judge sees what the code printed
    judge_prompt = next(r for r in model.requests if r.tags.role == "judge").messages[-1].content
    assert "print(17 * 23)" in judge_prompt and "391" in judge_prompt


def test_an_answer_the_code_confirms_needs_no_extra_call() -> None:
    reply = "```python\nprint(6 * 7)\n```\nFinal answer: \\boxed{42}"
    with ScriptedModel({"planner": [PLAN], "solver": [reply], "judge": [verdict(1)]}) as model:
        solution = Xolver(model, agents=1, rounds=0, memory=None).solve("What is 6 * 7?")
    assert solution.answer == "42"
    assert len(solution.rounds[0].trajectories[0].tool_calls) == 1


def test_hostile_or_failing_code_comes_back_as_a_tool_error_and_the_loop_is_bounded() -> None:
    loop = "```python\nwhile True:\n    pass\n```"
    with ScriptedModel(
        {"planner": [PLAN], "solver": [loop, loop, "Final answer: \\boxed{1}"], "judge": [verdict(0)]}
    ) as model:
        solution = Xolver(model, agents=1, rounds=0, memory=None, max_tool_calls=2, tool_timeout=1.0).solve("p")
    calls = solution.rounds[0].trajectories[0].tool_calls
    assert len(calls) == 2 and not any(c.ok for c in calls)
    assert all(c.error for c in calls)
    assert solution.answer == "1"


def test_python_tool_can_be_switched_off() -> None:
    with ScriptedModel(
        {"planner": [PLAN], "solver": [CODE + "\nFinal answer: \\boxed{391}"], "judge": [verdict(1)]}
    ) as model:
        solution = Xolver(model, agents=1, rounds=0, memory=None, python_tool=False).solve("What is 17 * 23?")
    assert solution.rounds[0].trajectories[0].tool_calls == []
    assert "run Python" not in model.requests[1].messages[-1].content


def test_checkable_equations_are_found_only_where_substitution_decides() -> None:
    from xolver.agents.judge import checkable_equation

    assert checkable_equation("Solve for x: 3x + 5 = 20", "5") == ("3x + 5 = 20", "x")
    assert checkable_equation("Find $n$ such that $2n^2 - 8 = 0$ and $n>0$.", "2") == ("2n^2 - 8 = 0", "n")
    assert checkable_equation("Solve for x: 3x + 5 = 20", "x = five") is None
    assert checkable_equation("A train leaves at 60 km/h. How far in 2 hours?", "120") is None
    assert checkable_equation("If x + y = 10, find x.", "4") is None  # two unknowns: not decidable


def test_judge_checks_the_answer_with_sympy_and_zeroes_a_wrong_one() -> None:
    problem = "Solve for x: 3x + 5 = 20"
    with ScriptedModel(
        {"planner": [PLAN], "solver": ["Final answer: \\boxed{5}", "Final answer: \\boxed{6}"], "judge": [verdict(1)]}
    ) as model:
        solution = Xolver(model, agents=2, rounds=0, memory=None).solve(problem)
    by_agent = {t.agent: t for t in solution.rounds[0].trajectories}
    assert by_agent[1].score == 0.0 and "does NOT satisfy" in by_agent[1].critique
    assert by_agent[0].score == 1.0
    judge_prompt = next(r for r in model.requests if r.tags.role == "judge").messages[-1].content
    assert "SymPy check: x = 5 satisfies 3x + 5 = 20" in judge_prompt
    assert solution.answer == "5"
