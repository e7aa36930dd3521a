"""Solvers run Python in the real sandbox: program seats answer with what their program prints,
reasoning seats may check their work with it (`fenced_python`); the judge checks blind and SymPy
substitutes."""

from __future__ import annotations

import asyncio

from tests._support.scripts import PLAN, by_role, solved, verdict
from xolver import Xolver
from xolver.agents.judge import JudgeInput, judge
from xolver.agents.runner import AgentRunner, Budget
from xolver.events import ToolCalled
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel, ScriptedModel
from xolver.solution import ToolCall, Trajectory

CODE = "Thought: let me compute it.\n```python\nprint(17 * 23)\n```"


def test_solver_runs_python_and_answers_with_its_output() -> None:
    with ScriptedModel(
        {
            "planner": [PLAN],
            "solver": [CODE, "Thought: the code printed 391.\nFinal answer: \\boxed{391}"],
        }
    ) as model:
        xo = Xolver(
            model, agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None, fenced_python=True
        )
        events = list(xo.stream("How many pens in 17 boxes of 23?"))
    solution = events[-1].solution  # type: ignore[union-attr]
    assert solution.answer == "391"
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert (call.tool, call.ok, call.output.strip()) == ("python", True, "391")
    follow_up = model.requests[2].messages[-1].content
    assert "Output:" in follow_up and "391" in follow_up
    assert [e.call.output.strip() for e in events if isinstance(e, ToolCalled)] == ["391"]
    assert [c.purpose for c in solution.usage.calls if c.role == "solver"] == ["answer", "tool1"]
    # A reasoning agent's own output matching its answer is a token match, not an executed check.
    assert not solution.checked


def test_the_judge_sees_the_code_a_candidate_ran_and_what_it_printed() -> None:
    candidate = Trajectory(
        agent=0,
        role="Calculator",
        round=0,
        response="17 * 23 = 391",
        answer="391",
        tool_calls=[ToolCall(tool="python", input="print(17 * 23)", output="391\n")],
    )
    with ScriptedModel({"judge": [verdict(1)]}) as model:
        task = JudgeInput(problem="How many pens in 17 boxes of 23?", candidate=candidate)
        verdict_ = asyncio.run(judge(AgentRunner(model, Budget()), task, repair_attempts=1))
    assert verdict_.score == 1.0
    prompt = model.requests[0].messages[-1].content
    assert "print(17 * 23)" in prompt and "391" in prompt


def test_an_answer_the_code_confirms_needs_no_extra_call() -> None:
    reply = "```python\nprint(6 * 7)\n```\nFinal answer: \\boxed{42}"
    with ScriptedModel({"planner": [PLAN], "solver": [reply]}) as model:
        solution = Xolver(
            model, agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None, fenced_python=True
        ).solve("What is 6 * 7?")
    assert solution.answer == "42"
    assert len(solution.rounds[0].trajectories[0].tool_calls) == 1


def test_hostile_or_failing_code_comes_back_as_a_tool_error_and_the_loop_is_bounded() -> None:
    loop = "```python\nwhile True:\n    pass\n```"
    with ScriptedModel({"planner": [PLAN], "solver": [loop, loop, "Final answer: \\boxed{1}"]}) as model:
        solution = Xolver(
            model,
            agents=1,
            rounds=0,
            methods=["reasoning"],
            blind_check=False,
            memory=None,
            max_tool_calls=2,
            tool_timeout=1.0,
            fenced_python=True,
        ).solve("p")
    calls = solution.rounds[0].trajectories[0].tool_calls
    assert len(calls) == 2 and not any(c.ok for c in calls)
    assert all(c.error for c in calls)
    assert solution.answer == "1"


def test_without_fenced_python_a_reasoning_seat_is_not_invited_to_run_python_and_its_code_is_not_run() -> None:
    with ScriptedModel({"planner": [PLAN], "solver": [CODE + "\nFinal answer: \\boxed{391}"]}) as model:
        solution = Xolver(
            model, agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None, fenced_python=False
        ).solve("How many pens in 17 boxes of 23?")
    assert solution.answer == "391" and solution.rounds[0].trajectories[0].tool_calls == []
    assert "run Python" not in model.requests[1].messages[-1].content


def test_python_tool_can_be_switched_off() -> None:
    with ScriptedModel({"planner": [PLAN], "solver": [CODE + "\nFinal answer: \\boxed{391}"] * 2}) as model:
        solution = Xolver(model, agents=2, rounds=0, memory=None, python_tool=False).solve(
            "How many pens in 17 boxes of 23?"
        )
    assert solution.rounds[0].trajectories[0].tool_calls == []
    assert "run Python" not in model.requests[1].messages[-1].content
    # Without the sandbox there is no program seat: both agents reason.
    assert [t.method for t in solution.rounds[0].trajectories] == ["reasoning", "reasoning"]


def test_checkable_equations_are_found_only_where_substitution_decides() -> None:
    from xolver.agents.judge import checkable_equation

    assert checkable_equation("Solve for x: 3x + 5 = 20", "5") == ("3x + 5 = 20", "x")
    assert checkable_equation("Find $n$ such that $2n^2 - 8 = 0$ and $n>0$.", "2") == ("2n^2 - 8 = 0", "n")
    assert checkable_equation("Solve for x: 3x + 5 = 20", "x = five") is None
    assert checkable_equation("A train leaves at 60 km/h. How far in 2 hours?", "120") is None
    assert checkable_equation("If x + y = 10, find x.", "4") is None  # two unknowns: not decidable


def test_checkable_equations_only_when_the_problem_asks_for_the_unknown() -> None:
    from xolver.agents.judge import checkable_equation

    # The right answer 18 is not a value of x: substituting it would refute it.
    assert checkable_equation("If $5x-3=12$, what is $5x+3$?", "18") is None
    assert checkable_equation("If $2x+3=11$, what is the value of $x^2$?", "16") is None
    assert checkable_equation("$3x+5=20$. Find $x$.", "5") == ("3x+5=20", "x")
    assert checkable_equation("Solve $2x^2 - 8 = 0$.", "2") == ("2x^2 - 8 = 0", "x")


def test_sympy_substitution_is_an_executed_check_that_refutes_a_wrong_answer() -> None:
    problem = "Solve for x: 3x + 5 = 20"
    answers = {0: "5", 1: "6"}

    def solver(request: ModelRequest) -> str:
        return f"Final answer: \\boxed{{{answers[request.tags.agent or 0]}}}"

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1)))
    # One supporter with a substitution that held suffices here (the default asks for three).
    team = Xolver(model, agents=2, rounds=1, methods=["reasoning"], memory=None, agreement_votes=1)
    solution = team.solve(problem)
    by_agent = {t.agent: t for t in solution.rounds[0].trajectories}
    assert [(c.kind, c.agrees) for c in by_agent[0].checks] == [("substitution", True)]
    assert [(c.kind, c.agrees) for c in by_agent[1].checks] == [("substitution", False)]
    # Reasoning plus a substitution that holds, against a refuted answer: agreement, no judge call.
    assert solution.stop_reason == "agreement" and len(solution.rounds) == 1
    assert "judge" not in solution.usage.by_role()
    assert solution.answer == "5" and solution.checked and solution.check_kind == "substitution"
    assert "satisfies 3x + 5 = 20" in solution.check


def test_a_right_answer_to_a_question_about_an_expression_is_not_refuted() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("18"), judge=verdict(1)))
    solution = Xolver(model, agents=2, rounds=0, memory=None).solve("If $5x-3=12$, what is $5x+3$?")
    assert solution.answer == "18"
    assert all(c.kind != "substitution" for t in solution.rounds[0].trajectories for c in t.checks)


def test_the_blind_check_runs_before_any_candidate_is_shown_and_adds_executed_weight() -> None:
    answers = {0: "12", 1: "13"}

    def solver(request: ModelRequest) -> str:
        return solved(answers[request.tags.agent or 0])

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1), blind="12"))
    # Two supporters (a vote and the checker) stop the solve here; the default asks for three.
    team = Xolver(model, agents=2, rounds=2, methods=["reasoning"], memory=None, agreement_votes=2)
    solution = team.solve("Compute six plus six.")
    blind = next(r for r in model.requests if r.tags.purpose == "blind_check")
    # Blind: the judge's check prompt holds the problem and no candidate's answer.
    assert "Compute six plus six." in blind.messages[-1].content
    assert "13" not in blind.messages[-1].content and "12" not in blind.messages[-1].content
    # 12 has a vote and the checker's executed answer (weight 2) against 13's single vote: agreement.
    assert [(t.answer, t.votes, t.executed, t.weight) for t in solution.tally] == [("12", 1, 1, 2.0), ("13", 1, 0, 1.0)]
    assert solution.stop_reason == "agreement" and len(solution.rounds) == 1
    assert solution.answer == "12" and solution.checked and solution.check_kind == "checker"
    assert [c.purpose for c in solution.usage.calls if c.role == "judge"] == ["blind_check"]


def test_the_blind_check_is_made_once_per_solve() -> None:
    answers = {0: "12", 1: "13"}

    def solver(request: ModelRequest) -> str:
        return solved(answers[request.tags.agent or 0])

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1), blind="14"))
    solution = Xolver(model, agents=2, rounds=2, methods=["reasoning"], memory=None).solve("Compute six plus six.")
    assert solution.stop_reason == "max_rounds" and len(solution.rounds) == 3
    assert [c.purpose for c in solution.usage.calls if c.role == "judge"].count("blind_check") == 1


def test_by_default_only_the_greedy_reasoning_seat_is_invited_to_run_python() -> None:
    """Sampled seats are the team's votes: they reason in words, and a block they write is not run."""

    def handler(request: ModelRequest) -> str:
        if request.tags.role == "planner":
            return PLAN
        if request.tags.purpose == "tool1":
            return "Final answer: \\boxed{391}"
        return CODE if request.settings.temperature == 0.0 else CODE + "\nFinal answer: \\boxed{391}"

    model = FunctionModel(handler)
    solution = Xolver(
        model, agents=2, rounds=0, methods=["reasoning"], blind_check=False, memory=None, explore_temperature=0.7
    ).solve("How many pens in 17 boxes of 23?")
    prompts = {r.settings.temperature: r.messages[-1].content for r in model.requests if r.tags.purpose == "answer"}
    assert "run Python" in prompts[0.0] and "run Python" not in prompts[0.7]
    greedy, sampled = solution.rounds[0].trajectories
    assert [c.output.strip() for c in greedy.tool_calls] == ["391"]
    assert sampled.tool_calls == [] and sampled.answer == "391"


def test_fenced_python_keeps_its_old_switch_meaning() -> None:
    from xolver.config import XolverConfig

    assert XolverConfig().fenced_python == "greedy"
    assert XolverConfig(fenced_python=True).fenced_python == "all"
    assert XolverConfig(fenced_python=False).fenced_python == "off"
