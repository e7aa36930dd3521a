"""The judge: a blind, executed check of the problem, then a critique and a score per candidate.

The judge first computes the answer itself, before it sees any candidate: it writes a program that
the sandbox runs (`blind_check`). Its opinion of a candidate (`judge`) is asked with that result in
front of it, and its score is read only from an explicit ``Score:`` field: a reply without one is
*unjudged* (score None), which carries no weight in the answer's choice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from xolver._text import excerpt
from xolver.agents.parsing import answers_match, parse_score, split_sections
from xolver.agents.programs import (
    PROGRAM_FORMAT,
    latex_answer,
    print_hint,
    program_answer,
    python_block,
    restated,
    restated_feedback,
)
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.solution import Check, Trajectory
from xolver.tools.arithmetic import (
    arithmetic_question,
    arithmetic_slips,
    asks_for_expression,
    check_expression,
    check_value,
    number_target,
)
from xolver.tools.toolbox import ToolBox

if TYPE_CHECKING:
    from xolver.config import AnswerFormat

__all__ = [
    "BlindCheck",
    "JudgeInput",
    "JudgeVerdict",
    "blind_check",
    "checkable_equation",
    "expression_check",
    "judge",
    "parse_verdict",
    "substitution_check",
]

FORMAT = "Critique: <one or two sentences>\nScore: <1 if the final answer is correct, 0 if it is wrong>"
SECTIONS = {"critique": ("critique", "feedback", "review", "analysis", "comment"), "score": ("score", "rating")}


class JudgeVerdict(BaseModel):
    """The judge's parsed reply; `score` is None when the reply had no usable score (unjudged)."""

    score: float | None = Field(default=None, ge=0.0, le=1.0)
    critique: str


@dataclass(frozen=True)
class BlindCheck:
    """What the judge's own program printed, computed before it saw any candidate."""

    answer: str
    code: str
    output: str


@dataclass(frozen=True)
class JudgeInput:
    """What the judge's opinion of one candidate is asked with."""

    problem: str
    candidate: Trajectory
    check: BlindCheck | None = None
    """The judge's blind check, when it made one: its answer is put in front of it."""


def parse_verdict(text: str) -> JudgeVerdict | None:
    """A score (required) and a critique (the critique section, else the text before the score)."""
    score = parse_score(text)
    if score is None:
        return None
    sections = split_sections(text, SECTIONS)
    critique = sections.get("critique") or text.split("\n")[0]
    critique = " ".join(critique.split())[:400]
    return JudgeVerdict(score=score, critique=critique)


def format_evidence(candidate: Trajectory) -> str:
    """What the candidate's executed code printed: checks the judge can lean on instead of guessing."""
    if not candidate.tool_calls:
        return ""
    blocks = []
    for call in candidate.tool_calls[-2:]:
        result = call.output.strip() or "(no output)"
        if not call.ok:
            result = f"{result}\n(error: {call.error})"
        blocks.append(f"```python\n{excerpt(call.input, 600)}\n```\nprinted:\n```\n{excerpt(result, 400)}\n```")
    return "\nCode the candidate ran in a sandbox, with its real output:\n" + "\n".join(blocks) + "\n"


# "Solve for x: 3x + 5 = 20", "$2x^2 - 8 = 0$": an equation in one single-letter unknown.
_MATH_SPAN = re.compile(r"\$([^$]+)\$|\\\((.+?)\\\)")
_EQUATION = re.compile(r"^[\w\s+\-*/^().]+=[\w\s+\-*/^().]+$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:/\d+)?$")


def checkable_equation(problem: str, answer: str | None) -> tuple[str, str] | None:
    """(equation, variable) when the problem states one equation in one unknown, asks for that
    unknown itself, and the answer is a number, so substituting the answer is a real check.

    "Solve for x: 3x + 5 = 20" qualifies; "If $5x-3=12$, what is $5x+3$?" does not (the answer is
    not a value of x, so substituting it would refute a right answer).
    """
    if answer is None or not _NUMBER.match(answer.strip().replace(",", "")):
        return None
    spans = [a or b for a, b in _MATH_SPAN.findall(problem)] or [problem.split(":")[-1]]
    for span in spans:
        candidate = span.strip().rstrip(".?")
        if candidate.count("=") != 1 or not _EQUATION.match(candidate):
            continue
        letters = set(re.findall(r"(?<![A-Za-z])([a-z])(?![A-Za-z])", candidate))
        if len(letters) == 1:
            variable = letters.pop()
            if asks_for_unknown(problem.replace(span, " "), variable):
                return candidate, variable
    return None


_CONDITION = re.compile(r"[<>]|\\(?:le|ge|lt|gt|ne|neq|leq|geq)\b|≤|≥|≠")
_ASK_WORDS = re.compile(r"\b(?:solve|find|what|determine|compute|value|roots?|solutions?)\b", re.IGNORECASE)


def asks_for_unknown(rest: str, variable: str) -> bool:
    """Whether the problem text outside its equation asks for `variable` itself.

    Every mention of the variable must be the bare variable ("for x", "$x$", "what is x?"); an
    expression in it ("$5x+3$", "x^2", "2x") means something else is asked. With no mention at all,
    "Solve ..." counts as asking for the unknown.
    """
    bare = re.compile(rf"(?<![\w^*/+\-]){re.escape(variable)}(?![\w^*/+\-(])")
    pieces = [a or b for a, b in _MATH_SPAN.findall(rest)]
    prose = _MATH_SPAN.sub(" ", rest)
    mentions = 0
    for piece in pieces:
        if _CONDITION.search(piece):
            continue  # "$n > 0$" constrains the unknown; it does not ask for something else
        if re.search(rf"(?<![A-Za-z]){re.escape(variable)}(?![A-Za-z])", piece):
            if piece.strip() != variable:
                return False
            mentions += 1
    for m in re.finditer(rf"(?<![A-Za-z]){re.escape(variable)}(?![A-Za-z])", prose):
        window = prose[max(0, m.start() - 1) : m.end() + 1]
        if not bare.search(window):
            return False
        mentions += 1
    if mentions:
        return True
    return bool(re.search(r"\bsolve\b", rest, re.IGNORECASE)) and bool(_ASK_WORDS.search(rest))


def expression_check(problem: str, candidate: Trajectory) -> Check | None:
    """Exact checks that need no model and no sandbox (`xolver.tools.arithmetic`), or None:

    - a problem that is nothing but an arithmetic expression ("What is 17 * 23?"): the candidate's
      number is compared with the expression's exact value. This check *settles* the answer;
    - a "use these numbers to obtain N" problem (Game of 24): the candidate's expression is checked;
      one that holds is proven and settles the answer too. Where the problem asks for the expression
      (`asks_for_expression`), a bare number is refuted.

    A failure is grounded and specific (the exact value, a number misused): it counts against the
    candidate like a refuted substitution and is shown to the judge and, in later rounds, to the team.
    """
    if candidate.answer is None:
        return None
    question = arithmetic_question(problem)
    if question is not None:
        result = check_value(candidate.answer, *question)
        if result.verdict == "error":
            return None
        return Check(
            kind="substitution",
            agrees=result.verdict == "holds",
            detail=f"exact arithmetic: {result.detail}",
            settles=True,
        )
    task = number_target(problem)
    if task is None:
        return None
    if not re.search(r"\d\s*[-+*/×÷]", candidate.answer):
        # A bare number (most often the target itself) answers a puzzle that asks for the expression
        # with nothing. Refuted on every candidate that gives it, so that copies of it without any
        # other check cannot outvote the refuted one or stop the loop (on the first Game of 24
        # puzzle a bare "24" won the vote that way), and the team is told why in the next round.
        # Where the problem does not say the answer is an expression, a number is left unjudged.
        number = re.sub(r"\\boxed|[${}\s,]", "", candidate.answer)
        if not asks_for_expression(problem) or not _NUMBER.match(number):
            return None
        numbers, target = task
        return Check(
            kind="substitution",
            agrees=False,
            detail=(
                f"exact check: {number} is a number, not an expression: the answer must combine each of "
                f"{numbers} once with + - * / and parentheses to reach {target}"
            ),
        )
    result = check_expression(candidate.answer, *task)
    if result.verdict == "error":
        return None
    # An expression that uses every given number once and evaluates exactly to the target is a proof:
    # it settles the answer (no vote needed, the loop stops). A failed one is refuted, not settled.
    holds = result.verdict == "holds"
    return Check(kind="substitution", agrees=holds, detail=f"exact check: {result.detail}", settles=holds)


def slip_check(candidate: Trajectory) -> Check | None:
    """The false calculations written in a chain of thought (`xolver.tools.arithmetic.arithmetic_slips`),
    as a disagreeing ``arithmetic`` check, or None when every calculation it wrote holds (or it wrote
    none, or it is a program: its arithmetic ran). No model call and no sandbox."""
    if candidate.answer is None or candidate.method != "reasoning" or not candidate.response:
        return None
    slips = arithmetic_slips(candidate.response)
    if not slips:
        return None
    return Check(kind="arithmetic", agrees=False, detail="a written calculation is false: " + "; ".join(slips))


async def substitution_check(
    toolbox: ToolBox | None, problem: str, candidate: Trajectory, *, exact_checks: bool = True
) -> Check | None:
    """SymPy substitution of the candidate's answer into the problem's equation, in the sandbox
    (or, for a problem that is only arithmetic or a "use these numbers to obtain N" problem,
    `expression_check`, unless `exact_checks` is False: `XolverConfig.exact_checks`).

    None when the problem has no equation in one unknown that it asks for, or the check could not
    decide; otherwise a `Check` that holds or fails.
    """
    exact = expression_check(problem, candidate) if exact_checks else None
    if exact is not None:
        return exact
    found = checkable_equation(problem, candidate.answer)
    if toolbox is None or found is None or candidate.answer is None:
        return None
    equation, variable = found
    result = await toolbox.check_substitution(equation, variable, candidate.answer.replace(",", ""))
    if result.verdict == "holds":
        return Check(
            kind="substitution", agrees=True, detail=f"SymPy: {variable} = {candidate.answer} satisfies {equation}"
        )
    if result.verdict == "fails":
        return Check(
            kind="substitution",
            agrees=False,
            detail=f"SymPy: {variable} = {candidate.answer} does NOT satisfy {equation}",
        )
    return None


CHECK_FORMAT = PROGRAM_FORMAT


async def blind_check(
    runner: AgentRunner,
    toolbox: ToolBox,
    problem: str,
    *,
    answer_format: AnswerFormat,
    repair_attempts: int,
) -> BlindCheck | None:
    """The judge computes the answer with its own program before seeing any candidate.

    The program runs in the sandbox (session "judge"); a failing one is sent back with its error up
    to `repair_attempts` times, and so is one that printed a number it was written with (`restated`).
    Returns None when no program printed a computed answer.

    Raises:
        BudgetExceeded: the budget is spent before the first call.
    """
    expression = number_target(problem) is not None
    history = [
        Message("system", render("judge_system")),
        Message(
            "user",
            render(
                "judge_check",
                problem=problem,
                print_hint=print_hint(answer_format, expression=expression),
                format=CHECK_FORMAT,
            ),
        ),
    ]
    settings = runner.settings.greedy()
    for attempt in range(repair_attempts + 1):
        tags = CallTags(role="judge", purpose="blind_check" if attempt == 0 else f"blind_check_repair{attempt}")
        if attempt == 0:
            response = await runner.call(history, tags, settings=settings)
        else:
            repaired = await runner.follow_up(history, tags, settings=settings)
            if repaired is None:
                break  # the budget is spent: no program printed an answer
            response = repaired
        code = python_block(response.text)
        if code is None:
            feedback = render("repair", issue="it had no ```python block", format=CHECK_FORMAT)
        else:
            call = await toolbox.run_python(_CHECKER_SESSION, code)
            answer = program_answer(call.output, answer_format, expression=expression) if call.ok else None
            if answer is not None and restated(code, answer, problem):
                # A number the program was written with checks nothing: ask again, and never count it.
                feedback = restated_feedback(answer)
            elif answer is not None:
                answer = await latex_answer(toolbox, _CHECKER_SESSION, answer, answer_format)
                return BlindCheck(answer=answer, code=code, output=call.output)
            else:
                feedback = (
                    f"Your program {'failed: ' + str(call.error) if not call.ok else 'printed nothing'}. Output:\n"
                    f"```\n{excerpt(call.output, 600) or '(no output)'}\n```\n"
                    "Fix it and reply with the corrected program in one ```python block; it must print the answer."
                )
        history = [*history, Message("assistant", response.text or "(empty)"), Message("user", feedback)]
    return None


# The judge's sandbox session: agents use their index, so a negative id never collides.
_CHECKER_SESSION = -1


def format_check(check: BlindCheck | None, candidate: Trajectory) -> str:
    if check is None:
        return ""
    agree = (
        "the same as"
        if candidate.answer is not None and answers_match(check.answer, candidate.answer)
        else "different from"
    )
    return (
        f"\nBefore seeing this candidate you computed the answer with your own program, which printed {check.answer} "
        f"({agree} the candidate's answer). Your program may be wrong too.\n"
    )


async def judge(runner: AgentRunner, task: JudgeInput, *, repair_attempts: int) -> JudgeVerdict:
    """The judge's opinion of one candidate: a critique and a strictly parsed score.

    A candidate without an answer is not judged (no call). A reply with no ``Score:`` field after
    the bounded repair is recorded as unjudged (score None), never as 0 or 1.

    Raises:
        BudgetExceeded: the budget is spent.
    """
    candidate = task.candidate
    if candidate.answer is None:
        reason = candidate.error or "no final answer"
        return JudgeVerdict(score=None, critique=f"Not judged: {reason}.")
    evidence = format_evidence(candidate) + "".join(
        f"\n{c.detail}.\n" for c in candidate.checks if c.kind in ("substitution", "arithmetic")
    )
    prompt = render(
        "judge",
        problem=task.problem,
        role=candidate.role,
        response=excerpt(candidate.response, 1500),
        answer=candidate.answer,
        evidence=evidence + format_check(task.check, candidate),
    )
    parsed = await runner.ask(
        [Message("system", render("judge_system")), Message("user", prompt)],
        CallTags(role="judge", agent=candidate.agent, round=candidate.round),
        parse_verdict,
        repair_format=FORMAT,
        repair_attempts=repair_attempts,
        # Judging is a check, not a creative act: sample greedily.
        settings=runner.settings.greedy(),
    )
    if parsed.value is None:
        return JudgeVerdict(score=None, critique="Unjudged: the judge's reply had no usable score.")
    return parsed.value
