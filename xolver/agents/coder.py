"""Code tasks: tests the model writes from the statement, judging by tests, and the debugger.

For a code task the judge does not ask a model whether a program is right: it runs the program on
the given tests plus tests synthesised from the statement, and the score is the share passed. The
verifier then acts as a debugger: when the chosen program fails a given test, the model gets the
error and a bounded number of attempts to fix it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from xolver.agents.judge import JudgeVerdict
from xolver.agents.parsing import extract_code_block
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.solution import TestOutcome, Trajectory
from xolver.tools.toolbox import ToolBox

__all__ = ["Debugged", "debug", "judge_by_tests", "parse_tests", "write_tests"]


def parse_tests(text: str, limit: int) -> list[str] | None:
    """Top-level ``assert`` statements from a reply's code block (each must parse on its own)."""
    code = extract_code_block(text, language="python") or text
    tests: list[str] = []
    for line in code.splitlines():
        line = line.strip()
        if not line.startswith("assert "):
            continue
        try:
            ast.parse(line)
        except SyntaxError:
            continue
        if line not in tests:
            tests.append(line)
    return tests[:limit] or None


async def write_tests(runner: AgentRunner, problem: str, *, count: int) -> list[str]:
    """One model call (plus one repair): up to `count` assert lines a correct program must pass
    (none when the reply has none).

    Raises:
        BudgetExceeded: the budget is spent.
    """
    parsed = await runner.ask(
        [Message("user", render("test_writer", problem=problem, count=count))],
        CallTags(role="judge", purpose="write_tests"),
        lambda text: parse_tests(text, count),
        repair_format="one ```python block of assert lines",
        repair_attempts=1,
        settings=runner.settings.greedy(),
    )
    return parsed.value or []


def verdict_from(outcomes: list[TestOutcome]) -> JudgeVerdict:
    passed = sum(o.passed for o in outcomes)
    critique = f"passed {passed}/{len(outcomes)} tests"
    failed = next((o for o in outcomes if not o.passed), None)
    if failed is not None:
        origin = "synthesized " if failed.synthesized else ""
        critique += f"; first failing {origin}test: {failed.test[:120]} -> {failed.error}"
    return JudgeVerdict(score=passed / len(outcomes), critique=critique)


async def judge_by_tests(
    toolbox: ToolBox, candidate: Trajectory, tests: list[str], *, synthesized: int
) -> tuple[JudgeVerdict, list[TestOutcome]]:
    """Score = share of tests the candidate's program passes, executed for real in the sandbox."""
    if candidate.answer is None:
        return JudgeVerdict(score=0.0, critique=f"Not judged: {candidate.error or 'no program'}."), []
    outcomes = await toolbox.run_tests(candidate.answer, tests, synthesized=synthesized)
    return verdict_from(outcomes), outcomes


@dataclass(frozen=True)
class Debugged:
    """The debugger's result: the best program, its outcomes on the given tests, and how many
    debugger calls it took."""

    code: str
    outcomes: list[TestOutcome]
    calls: int


async def debug(
    runner: AgentRunner,
    toolbox: ToolBox,
    problem: str,
    code: str,
    tests: list[str],
    *,
    attempts: int,
) -> Debugged:
    """Run `code` on the given tests and let the model repair failures, keeping the best program.

    Every attempt is a follow-up: a spent budget ends the repairs and the best program so far stands.
    """
    outcomes = await toolbox.run_tests(code, tests)
    calls = 0
    best_code, best = code, outcomes
    for attempt in range(attempts):
        failed = next((o for o in best if not o.passed), None)
        if failed is None:
            break
        prompt = render("debugger", problem=problem, code=best_code, test=failed.test, error=failed.error or "failed")
        response = await runner.follow_up(
            [Message("user", prompt)],
            CallTags(role="verifier", purpose=f"debug{attempt + 1}"),
            settings=runner.settings.greedy(),
        )
        if response is None:
            break
        calls += 1
        fixed = extract_code_block(response.text, language="python")
        if fixed is None:
            continue
        trial = await toolbox.run_tests(fixed, tests)
        if sum(o.passed for o in trial) > sum(o.passed for o in best):
            best_code, best = fixed, trial
    return Debugged(code=best_code, outcomes=best, calls=calls)
