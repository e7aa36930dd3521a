"""The solver: one per planned role; answers with a thought, a response and a final answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel

from xolver._text import excerpt
from xolver.agents.parsing import extract_answer, extract_boxed, extract_code_block, last_number, split_sections
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.errors import BudgetExceeded
from xolver.events import ToolCalled
from xolver.models.base import CallTags, Message, ModelResponse, ModelSettings
from xolver.solution import CallRecord, Check, Exemplar, SolveMethod, ToolCall, Trajectory
from xolver.tools.toolbox import ToolBox

__all__ = [
    "Seat",
    "SolverOutput",
    "format_experience",
    "format_shared",
    "parse_solution",
    "program_answer",
    "solve",
    "team_seats",
]

FORMAT = "Thought: <your reasoning, step by step>\nResponse: <the complete solution>\nFinal answer: \\boxed{<answer>}"
CODE_FORMAT = (
    "Thought: <your reasoning, step by step>\nResponse: <a short explanation>\n"
    "Final answer: the complete program in one ```python block"
)


def reply_format(answer_format: str) -> str:
    return CODE_FORMAT if answer_format == "code" else FORMAT


SECTIONS = {
    "thought": ("thought", "thoughts", "reasoning", "analysis", "thinking", "think"),
    "response": ("response", "solution", "explanation", "work"),
    "final": ("final answer", "answer"),
}
# Long histories drown small models and cost tokens; excerpts keep prompts short.
EXCERPT_CHARS = 900
TOOLS_HINT = (
    "You may run Python to check your work: write a ```python block that prints what you need, "
    "and you will be shown its output before you give your final answer.\n"
)


class SolverOutput(BaseModel):
    """A solver's parsed reply."""

    thought: str
    response: str
    answer: str


def parse_solution(text: str, answer_format: str = "auto") -> SolverOutput | None:
    """Thought and response sections (either may be missing) and an extractable final answer."""
    if not text or not text.strip():
        return None
    answer, _source = extract_answer(text, answer_format)
    if answer is None:
        return None
    sections = split_sections(text, SECTIONS)
    thought = sections.get("thought", "")
    response = sections.get("response", "")
    if not response:
        response = text.strip()
    elif sections.get("final"):
        # Keep the stated final answer with the response: the judge and verifier read it there.
        response = f"{response}\nFinal answer: {sections['final']}"
    return SolverOutput(thought=thought, response=response, answer=answer)


def format_experience(exemplars: Sequence[Exemplar]) -> str:
    """Retrieved experience as method, in sections by kind, so it is not copied as an answer."""
    if not exemplars:
        return ""
    parts: list[str] = []
    problems = [e for e in exemplars if e.kind == "problem"]
    strategies = [e for e in exemplars if e.kind == "strategy"]
    code = [e for e in exemplars if e.kind == "code"]
    if problems:
        parts.append("Related solved problems (reuse the method, not the numbers: they are different problems):")
        for i, e in enumerate(problems, 1):
            parts.append(f"Example {i}: {excerpt(e.text, 400)}\nIts solution: {excerpt(e.solution, 500)}")
    if strategies:
        parts.append("Strategies that worked before:")
        parts.extend(f"- {excerpt(e.text, 300)}" for e in strategies)
    if code:
        parts.append("Helper code that worked before:")
        parts.extend(f"# {e.text}\n```python\n{excerpt(e.code, 600)}\n```" for e in code)
    return "\n\n".join(parts) + "\n\n"


def format_shared(entries: Sequence[Trajectory], *, with_critique: bool) -> str:
    """The shared memory as the refine prompt shows it."""
    if not entries:
        return "(none yet)"
    blocks = []
    for e in entries:
        notes = [e.method, f"round {e.round}"]
        notes += [c.detail for c in e.checks if c.detail]
        notes.append("not judged" if e.score is None else f"judge score {e.score:.2f}")
        head = f"[{e.role}: {', '.join(notes)}] final answer: {e.answer if e.answer is not None else '(none)'}"
        # A program is shown whole: an elided middle ("[...]") gets copied into the next program.
        body = e.response.strip() if e.method == "program" else excerpt(e.response, 600)
        note = f"\nJudge: {e.critique}" if with_critique and e.critique else ""
        blocks.append(f"{head}\n{body}{note}")
    return "\n\n".join(blocks)


def python_block(text: str) -> str | None:
    """The Python code an agent wants run: the last ```python (or unlabelled) fenced block."""
    if "```" not in text:
        return None
    code = extract_code_block(text, language="python")
    if code is None or not code.strip():
        return None
    return code


def tool_feedback(call: ToolCall) -> str:
    status = "ran" if call.ok else f"failed: {call.error}"
    return (
        f"Your Python code {status}. Output:\n```\n{call.output.strip() or '(no output)'}\n```\n"
        "Use this to finish. End with: Final answer: \\boxed{<answer>}"
    )


@dataclass(frozen=True)
class Seat:
    """How one agent works: its method and its sampling temperature (diversity by method, not name)."""

    method: SolveMethod
    temperature: float


def team_seats(
    agents: int, *, methods: Sequence[SolveMethod] | None, explore_temperature: float, code: bool
) -> list[Seat]:
    """The seat of every agent.

    By default agents alternate program (program-of-thought, run in the sandbox) and reasoning (chain
    of thought), starting with program: on arithmetic a small model's program is right far more often
    than its prose (docs/benchmarks.md), and its printed value is an executed check. The first agent of
    each method samples greedily, the others at `explore_temperature` (every agent does in later
    rounds). Code tasks are solved by reasoning only: the program is the answer.
    """
    chosen: list[SolveMethod] = []
    for i in range(agents):
        if code:
            chosen.append("reasoning")
        elif methods:
            chosen.append(methods[i % len(methods)])
        else:
            chosen.append("program" if i % 2 == 0 else "reasoning")
    seats = []
    for i, method in enumerate(chosen):
        first_of_method = method not in chosen[:i]
        seats.append(Seat(method=method, temperature=0.0 if first_of_method else explore_temperature))
    return seats


_BRIEFS = {
    "reasoning": "You reason step by step in words, check your arithmetic, and end with the final answer in \\boxed{}.",
    "program": "You solve problems by writing a short, correct Python program that computes the answer.",
}
PROGRAM_FORMAT = "Thought: <your plan in one or two sentences>\n```python\n<the program; it prints the answer>\n```"
_PRINT_HINT = {
    "integer": "Print a plain integer. ",
    "boxed": (
        "Print exact values (fractions, radicals, pi via sympy, e.g. print(sympy.nsimplify(x))), not rounded decimals. "
    ),
    "auto": "Print exact values, not rounded decimals, where that matters. ",
}
# Two words of three or more letters in a row: a sentence, not an expression (sqrt(2), 3*pi, x + 1).
_PROSE = re.compile(r"[A-Za-z]{3,}[,;:]?\s+[A-Za-z]{3,}")
_ANSWER_PREFIX = re.compile(r"^(?:final\s+answer|the\s+answer\s+is|answer)\s*[:=]?\s*", re.IGNORECASE)


def program_answer(output: str, answer_format: str) -> str | None:
    """The answer a program printed: its last non-empty output line, cleaned.

    ``"Answer: 18"`` -> ``"18"``; ``"102.0"`` -> ``"102"``; a float's binary noise is rounded off
    (``0.30000000000000004`` -> ``"0.3"``); integer tasks keep the last number of the line.
    """
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return None
    line = _ANSWER_PREFIX.sub("", lines[-1]).strip().strip("$").strip()
    if line.count("=") == 1 and "==" not in line:
        # "17 * 23 = 391", "x = 5": the value is what follows the sign.
        line = line.split("=")[1].strip() or line
    boxed = extract_boxed(line)
    if boxed:
        line = boxed[-1]
    if not line:
        return None
    if answer_format == "integer":
        # An integer task's answer is an integer: 7.2 is a wrong program, not an answer to vote for.
        number = last_number(line)
        tidy = _tidy_number(number) if number else None
        return tidy if tidy is not None and re.fullmatch(r"-?\d+", tidy) else None
    if re.fullmatch(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", line):
        return _tidy_number(line)
    if _PROSE.search(line):
        # "Janet makes 38.00 dollars a day." is a sentence around the value, not a value.
        number = last_number(line)
        return _tidy_number(number) if number else None
    return line


_TO_LATEX = """
import sympy as _sp
try:
    _v = _sp.sympify({text!r}, rational=False)
    print(_sp.latex(_v))
except Exception:
    print({text!r})
"""


async def latex_answer(toolbox: ToolBox, session: int, answer: str, answer_format: str) -> str:
    """A program's printed answer in LaTeX (``pi/2`` -> ``\\frac{\\pi}{2}``), so it votes with and is
    graded like the reasoning seats' boxed answers. Numbers and integer tasks pass through. The
    conversion runs in the sandbox: the text came from an untrusted program, and sympify evaluates.
    """
    if answer_format in {"integer", "choice", "code", "text"} or re.fullmatch(r"-?\d+(?:\.\d+)?", answer):
        return answer
    if "\\" in answer or len(answer) > 200:
        return answer  # already LaTeX, or not a value
    call = await toolbox.run_python(session, _TO_LATEX.format(text=answer))
    converted = call.output.strip().splitlines()[-1].strip() if call.ok and call.output.strip() else ""
    return converted or answer


def _tidy_number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


async def solve(
    runner: AgentRunner,
    problem: str,
    *,
    agent: int,
    role: str,
    round_index: int,
    exemplars: Sequence[Exemplar],
    previous: Trajectory | None,
    shared: Sequence[Trajectory],
    share_critique: bool,
    answer_format: str,
    repair_attempts: int,
    toolbox: ToolBox | None = None,
    max_tool_calls: int = 0,
    seat: Seat | None = None,
    reason: str = "",
) -> tuple[Trajectory, list[CallRecord]]:
    """One agent's attempt in one round. Round 0 (or no previous attempt) solves from scratch.

    A *program* seat writes a program whose printed output is its answer (run in the agent's
    sandbox session; a failing program is sent back with its error, `repair_attempts` times). A
    *reasoning* seat answers in words; if it writes Python anyway, the block is run and the output
    shown, up to `max_tool_calls` times. A reply cut off at the token cap is never an answer.
    """
    seat = seat or Seat(method="reasoning", temperature=runner.settings.temperature or 0.0)
    if answer_format == "code":
        # The program is the answer and the tests judge it; running it as a "tool" would only echo it.
        toolbox = None
    method: SolveMethod = seat.method if toolbox is not None else "reasoning"
    experience = format_experience(exemplars)
    system = render(
        "solver_system", role=role, reason=f" ({reason.rstrip('.')})" if reason else "", brief=_BRIEFS[method]
    )
    settings = replace(runner.settings, temperature=seat.temperature)
    if runner.settings.seed is not None:
        settings = replace(settings, seed=runner.settings.seed + 101 * round_index + agent)
    refine = round_index > 0 and previous is not None
    if method == "program":
        fmt = PROGRAM_FORMAT
        variables = {"experience": experience, "problem": problem, "format": fmt}
        variables["print_hint"] = _PRINT_HINT.get(answer_format, _PRINT_HINT["auto"])
        if refine:
            assert previous is not None
            variables["previous"] = excerpt(previous.response, EXCERPT_CHARS) + f"\nFinal answer: {previous.answer}"
            variables["shared"] = format_shared(shared, with_critique=share_critique)
            prompt = render("solver_program_refine", **variables)
        else:
            prompt = render("solver_program", **variables)
    else:
        fmt = reply_format(answer_format)
        tools = TOOLS_HINT if toolbox is not None and max_tool_calls > 0 and seat.method == "reasoning" else ""
        if refine:
            assert previous is not None
            prompt = render(
                "solver_refine",
                experience=experience,
                problem=problem,
                tools=tools,
                format=fmt,
                previous=excerpt(previous.response, EXCERPT_CHARS) + f"\nFinal answer: {previous.answer}",
                shared=format_shared(shared, with_critique=share_critique),
            )
        else:
            prompt = render("solver", experience=experience, problem=problem, tools=tools, format=fmt)
    tags = CallTags(role="solver", agent=agent, round=round_index)
    history = [Message("system", system), Message("user", prompt)]
    base = Trajectory(agent=agent, role=role, round=round_index, method=method, temperature=seat.temperature)
    if method == "program":
        assert toolbox is not None
        return await _solve_by_program(
            runner,
            toolbox,
            history,
            tags,
            base,
            settings=settings,
            answer_format=answer_format,
            repairs=repair_attempts,
        )
    return await _solve_by_reasoning(
        runner,
        toolbox if tools else None,
        history,
        tags,
        base,
        settings=settings,
        answer_format=answer_format,
        fmt=fmt,
        repair_attempts=repair_attempts,
        max_tool_calls=max_tool_calls,
    )


def _cut_off(response: ModelResponse) -> bool:
    return response.truncated


async def _solve_by_program(
    runner: AgentRunner,
    toolbox: ToolBox,
    history: list[Message],
    tags: CallTags,
    base: Trajectory,
    *,
    settings: ModelSettings,
    answer_format: str,
    repairs: int,
) -> tuple[Trajectory, list[CallRecord]]:
    calls: list[CallRecord] = []
    tool_calls: list[ToolCall] = []
    text, error = "", "no program found"
    for attempt in range(repairs + 1):
        if attempt:
            tags = CallTags(role=tags.role, agent=tags.agent, round=tags.round, purpose=f"repair{attempt}")
            try:
                response, record = await runner.call(history, tags, settings=settings)
            except BudgetExceeded:
                break
        else:
            response, record = await runner.call(history, tags, settings=settings)
        calls.append(record)
        text = response.text
        code = python_block(text)
        if code is None:
            error = "cut off at the token cap" if _cut_off(response) else "no program found"
            feedback = render("repair", issue="it had no ```python block", format=PROGRAM_FORMAT)
        else:
            call = await toolbox.run_python(base.agent, code)
            tool_calls.append(call)
            runner.emit(ToolCalled(agent=base.agent, round=base.round, call=call))
            answer = program_answer(call.output, answer_format) if call.ok else None
            if answer is not None:
                answer = await latex_answer(toolbox, base.agent, answer, answer_format)
                sections = split_sections(text, SECTIONS)
                response_text = f"```python\n{code}\n```\nIt printed:\n```\n{excerpt(call.output, 400)}\n```"
                check = Check(kind="program", agrees=True, detail=f"its program printed {answer}")
                return (
                    base.model_copy(
                        update={
                            "thought": sections.get("thought", ""),
                            "response": response_text,
                            "answer": answer,
                            "tool_calls": tool_calls,
                            "checks": [check],
                        }
                    ),
                    calls,
                )
            if not call.ok:
                error, what = f"the program failed: {call.error}", f"failed: {call.error}"
            elif call.output.strip():
                error = what = f"printed no {'integer' if answer_format == 'integer' else 'answer'} on its last line"
            else:
                error, what = "the program printed nothing", "printed nothing"
            feedback = (
                f"Your program {what}. Output:\n"
                f"```\n{excerpt(call.output, 600) or '(no output)'}\n```\n"
                "Fix it and reply with the corrected program in one ```python block; its last line must print "
                f"{'the answer as a plain integer' if answer_format == 'integer' else 'the answer'}."
            )
        history = [*history, Message("assistant", text or "(empty)"), Message("user", feedback)]
    failed = base.model_copy(
        update={"response": text.strip(), "parse_ok": False, "error": error, "tool_calls": tool_calls}
    )
    return failed, calls


async def _solve_by_reasoning(
    runner: AgentRunner,
    toolbox: ToolBox | None,
    history: list[Message],
    tags: CallTags,
    base: Trajectory,
    *,
    settings: ModelSettings,
    answer_format: str,
    fmt: str,
    repair_attempts: int,
    max_tool_calls: int,
) -> tuple[Trajectory, list[CallRecord]]:
    def parse(text: str) -> SolverOutput | None:
        return parse_solution(text, answer_format)

    response, record = await runner.call(history, tags, settings=settings)
    calls = [record]
    text = response.text
    truncated = _cut_off(response)
    tool_calls: list[ToolCall] = []
    while toolbox is not None and len(tool_calls) < max_tool_calls and not truncated:
        code = python_block(text)
        if code is None:
            break
        call = await toolbox.run_python(base.agent, code)
        tool_calls.append(call)
        runner.emit(ToolCalled(agent=base.agent, round=base.round, call=call))
        if parse(text) is not None:
            break  # the reply already states its answer; the output is shown to the judge
        history = [*history, Message("assistant", text), Message("user", tool_feedback(call))]
        tool_tags = CallTags(role="solver", agent=base.agent, round=base.round, purpose=f"tool{len(tool_calls)}")
        try:
            response, record = await runner.call(history, tool_tags, settings=settings)
        except BudgetExceeded:
            break
        calls.append(record)
        text = response.text
        truncated = _cut_off(response)
    if truncated:
        # A chain of thought cut at the cap has no answer; its last number is a guess, not a result.
        cut = base.model_copy(
            update={
                "response": text.strip(),
                "parse_ok": False,
                "error": "cut off at the token cap",
                "tool_calls": tool_calls,
            }
        )
        return cut, calls
    parsed = await runner.ask_again(
        history, text, tags, parse, repair_format=fmt, repair_attempts=repair_attempts, settings=settings
    )
    calls.extend(parsed.calls)
    if parsed.value is None:
        failed = base.model_copy(
            update={
                "response": parsed.text.strip(),
                "parse_ok": False,
                "error": "empty reply" if not parsed.text.strip() else "no final answer found",
                "tool_calls": tool_calls,
            }
        )
        return failed, calls
    out = parsed.value
    done = base.model_copy(
        update={"thought": out.thought, "response": out.response, "answer": out.answer, "tool_calls": tool_calls}
    )
    return done, calls
