"""The solver: one per planned role; answers with a thought, a response and a final answer."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel
from typing_extensions import assert_never

from xolver._text import excerpt
from xolver.agents.experience import format_experience, lead_into_problem
from xolver.agents.parsing import extract_answer, split_sections
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
from xolver.events import ToolCalled
from xolver.models.base import CallTags, Message, ModelResponse, ModelSettings, ToolSpec, supports_function_calling
from xolver.solution import Check, Exemplar, SolveMethod, ToolCall, Trajectory
from xolver.tools.arithmetic import number_target
from xolver.tools.toolbox import ToolBox

if TYPE_CHECKING:
    from xolver.config import AnswerFormat

__all__ = [
    "Seat",
    "SolverInput",
    "SolverOptions",
    "SolverOutput",
    "format_experience",
    "format_shared",
    "parse_solution",
    "solve",
    "team_seats",
]

# The plain step-by-step instruction of the single-call baseline: asked for Thought/Response/Final
# answer sections instead, Qwen2.5-Coder-0.5B's greedy chain of thought fell from 13 to 5 right on
# the first 39-50 GSM8K problems (docs/benchmarks.md). The sections stay optional when parsing.
FORMAT = "End with the final answer on its own line as \\boxed{<answer>}."
CODE_FORMAT = (
    "Reply in this format:\nThought: <your reasoning, step by step>\nResponse: <a short explanation>\n"
    "Final answer: the complete program in one ```python block"
)


# Asked for "the final answer", a chain of thought on a Game of 24 problem boxes the value it reached
# (81 of 119 boxed answers were bare numbers on the first 21 problems), which answers nothing.
EXPRESSION_FORMAT = (
    "End with the expression itself (each given number used once), not its value, on its own line as "
    "\\boxed{<expression>}."
)


def reply_format(answer_format: AnswerFormat, *, expression: bool = False) -> str:
    """The reply instruction that ends a reasoning seat's prompt (and its repair prompt); for a problem
    answered by an expression (`number_target`), the expression."""
    if answer_format == "code":
        return CODE_FORMAT
    return EXPRESSION_FORMAT if expression else FORMAT


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
# For models that call tools natively: the tools themselves come as definitions with the request.
NATIVE_TOOLS_HINT = (
    "You can call tools to check your work ({names}): call one whenever an exact check helps, "
    "read its result, then give your final answer.\n"
)


class SolverOutput(BaseModel):
    """A solver's parsed reply."""

    thought: str
    response: str
    answer: str


def parse_solution(text: str, answer_format: AnswerFormat = "auto") -> SolverOutput | None:
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


_TOOL_BLOCK = re.compile(r"```tool[ \t]*\n(.*?)```", re.DOTALL)


def tool_block(text: str) -> tuple[str, str] | None:
    """The tool a fenced ```tool block asks for: (name, arguments as JSON text), from its last block.

    A block that is not ``{"name": ..., "arguments": {...}}`` still counts (name ``""``), so the
    model is told what was wrong instead of having its JSON run as Python.
    """
    blocks = _TOOL_BLOCK.findall(text)
    if not blocks:
        return None
    try:
        data = json.loads(blocks[-1])
    except ValueError:
        return "", blocks[-1].strip()
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return "", blocks[-1].strip()
    return data["name"], json.dumps(data.get("arguments") or {})


def fenced_tools_hint(specs: Sequence[ToolSpec]) -> str:
    """How a model without native tool calls asks for `specs`: one ```tool JSON block per call."""
    if not specs:
        return ""
    lines = ['You may also call a tool with a ```tool block holding {"name": ..., "arguments": {...}}:']
    for spec in specs:
        props = spec.parameters.get("properties", {})
        args = ", ".join(f"{k} ({v.get('type', 'any')})" for k, v in props.items())
        lines.append(f"- {spec.name}: {spec.description} Arguments: {args}.")
    return "\n".join(lines) + "\n"


def tool_feedback(call: ToolCall) -> str:
    if call.tool != "python":
        status = "ran" if call.ok else f"failed: {call.error}"
        return (
            f"Your {call.tool or 'tool'} call {status}. Output:\n```\n{call.output.strip() or '(no output)'}\n```\n"
            "Use this to finish. End with: Final answer: \\boxed{<answer>}"
        )
    status = "ran" if call.ok else f"failed: {call.error}"
    return (
        f"Your Python code {status}. Output:\n```\n{call.output.strip() or '(no output)'}\n```\n"
        "Use this to finish. End with: Final answer: \\boxed{<answer>}"
    )


_DEFAULT_CYCLE: tuple[SolveMethod, ...] = ("program", "reasoning", "reasoning")


@dataclass(frozen=True)
class Seat:
    """How one agent works: its method and its sampling temperature (diversity by method, not name)."""

    method: SolveMethod
    temperature: float


@dataclass(frozen=True)
class SolverInput:
    """One agent's task in one round.

    Attributes:
        seat: the agent's method and temperature (default: reasoning at the runner's temperature).
        reason: the planner's one-line reason for the role, shown in the system prompt.
        previous: the agent's own previous attempt, when this round refines it.
        shared: the shared memory a refinement reads (top candidates so far).
    """

    problem: str
    agent: int
    role: str
    round: int
    seat: Seat | None = None
    reason: str = ""
    exemplars: Sequence[Exemplar] = ()
    previous: Trajectory | None = None
    shared: Sequence[Trajectory] = field(default_factory=tuple)


FencedPython = Literal["greedy", "all", "off"]


def invites_python(fenced_python: FencedPython, seat: Seat) -> bool:
    """Whether a reasoning seat's prompt invites fenced ```python blocks (and its blocks are run).

    ``greedy`` invites only seats that sample greedily: a sampled chain of thought is one of the
    team's votes, and the invitation made Qwen2.5-Coder-0.5B's samples worse (GSM8K problems 20-34
    at temperature 0.7, 60 samples each: 7 right with it, 15 without, 18 for the self-consistency
    prompt; the model writes a block and then invents its output; docs/benchmarks.md).
    """
    match fenced_python:
        case "all":
            return True
        case "off":
            return False
        case "greedy":
            return seat.temperature == 0.0
        case other:
            assert_never(other)


@dataclass(frozen=True)
class SolverOptions:
    """How every solver of a solve works (from the solve's config).

    Attributes:
        repair_attempts: repairs of an unparseable reply, or of a program that printed no answer.
        share_critique: show the judge's critiques in the shared memory.
        max_tool_calls: Python runs (or native tool calls) a reasoning seat may ask for per round.
        function_calling: ``auto``: reasoning seats get `tools` as native tool definitions when the
            model calls tools natively (`supports_function_calling`); ``on``: always; ``off``: never
            (fenced Python blocks, the path every other model takes).
        tools: the tools offered natively, by name (`ToolBox.names`).
        fenced_python: which reasoning seats, on models that do not call tools natively, are invited
            to write ```python blocks (run, and the output shown before they answer): ``greedy``
            (the first reasoning seat only; sampled seats are the team's votes and reason in words,
            because the invitation makes a small model's samples worse), ``all`` or ``off``.
        fenced_tools: also offer `tools` other than python to models that do not call tools
            natively, as ```tool blocks holding ``{"name": ..., "arguments": {...}}``.
    """

    answer_format: AnswerFormat = "auto"
    repair_attempts: int = 1
    share_critique: bool = True
    max_tool_calls: int = 0
    function_calling: Literal["auto", "on", "off"] = "auto"
    tools: tuple[str, ...] = ("python", "sympy_check", "z3_check")
    fenced_python: FencedPython = "greedy"
    fenced_tools: bool = False


def team_seats(
    agents: int,
    *,
    methods: Sequence[SolveMethod] | None,
    explore_temperature: float,
    code: bool,
    explore_program_temperature: float | None = None,
) -> list[Seat]:
    """The seat of every agent.

    By default the seats cycle program, reasoning, reasoning: one program-of-thought (run in the
    sandbox; its printed value is an executed check, and its mistakes are not the prose's) beside
    chains of thought, which Qwen2.5-Coder-0.5B gets right more often than its programs on GSM8K (13
    and 8 of the first 50 greedy; docs/benchmarks.md). The first agent of each method samples
    greedily, the others sample: chains of thought at `explore_temperature`, programs at
    `explore_program_temperature` (default: the same). Code tasks are solved by reasoning only: the
    program is the answer.
    """
    chosen: list[SolveMethod] = []
    for i in range(agents):
        if code:
            chosen.append("reasoning")
        elif methods:
            chosen.append(methods[i % len(methods)])
        else:
            chosen.append(_DEFAULT_CYCLE[i % len(_DEFAULT_CYCLE)])

    def sampled(method: SolveMethod) -> float:
        if method == "program" and explore_program_temperature is not None:
            return explore_program_temperature
        return explore_temperature

    seats = []
    for i, method in enumerate(chosen):
        first_of_method = method not in chosen[:i]
        seats.append(Seat(method=method, temperature=0.0 if first_of_method else sampled(method)))
    return seats


_BRIEFS = {
    "reasoning": "You reason step by step in words, check your arithmetic, and end with the final answer in \\boxed{}.",
    "program": "You solve problems by writing a short, correct Python program that computes the answer.",
}


async def solve(
    runner: AgentRunner,
    task: SolverInput,
    options: SolverOptions | None = None,
    *,
    toolbox: ToolBox | None = None,
) -> Trajectory:
    """One agent's attempt in one round. Round 0 (or no previous attempt) solves from scratch.

    A *program* seat writes a program whose printed output is its answer (run in the agent's
    sandbox session; a failing program is sent back with its error, `repair_attempts` times). A
    *reasoning* seat answers in words; on a model that calls tools natively, or with `fenced_python`,
    it may run Python (and the output is shown), up to `max_tool_calls` times. A reply cut off at the
    token cap is never an answer.

    Raises:
        BudgetExceeded: the budget is spent before the first call.
    """
    options = options or SolverOptions()
    answer_format = options.answer_format
    seat = task.seat or Seat(method="reasoning", temperature=runner.settings.temperature or 0.0)
    if answer_format == "code":
        # The program is the answer and the tests judge it; running it as a "tool" would only echo it.
        toolbox = None
    method: SolveMethod = seat.method if toolbox is not None else "reasoning"
    experience = format_experience(task.exemplars)
    # Answered by an expression (Game of 24): both kinds of seat are asked for the expression itself.
    expression = number_target(task.problem) is not None
    reason = task.reason
    system = render(
        "solver_system", role=task.role, reason=f" ({reason.rstrip('.')})" if reason else "", brief=_BRIEFS[method]
    )
    settings = replace(runner.settings, temperature=seat.temperature)
    if runner.settings.seed is not None:
        settings = replace(settings, seed=runner.settings.seed + 101 * task.round + task.agent)
    previous = task.previous if task.round > 0 else None
    refined: dict[str, str] = {}
    if previous is not None:
        refined = {
            "previous": excerpt(previous.response, EXCERPT_CHARS) + f"\nFinal answer: {previous.answer}",
            "shared": format_shared(task.shared, with_critique=options.share_critique),
        }
    tags = CallTags(role="solver", agent=task.agent, round=task.round)
    base = Trajectory(agent=task.agent, role=task.role, round=task.round, method=method, temperature=seat.temperature)
    match method:
        case "program":
            assert toolbox is not None
            variables = {"experience": experience, "problem": task.problem, "format": PROGRAM_FORMAT}
            variables["print_hint"] = print_hint(answer_format, expression=expression)
            template = "solver_program_refine" if refined else "solver_program"
            history = [Message("system", system), Message("user", render(template, **variables, **refined))]
            return await _solve_by_program(
                runner,
                toolbox,
                history,
                tags,
                base,
                settings=settings,
                answer_format=answer_format,
                repairs=options.repair_attempts,
                problem=task.problem,
            )
        case "reasoning":
            fmt = reply_format(answer_format, expression=expression)
            # The refine prompt labels its problem; the first-round prompt needs the lead-in.
            experience_text = experience if refined else lead_into_problem(experience)
            wants_tools = toolbox is not None and options.max_tool_calls > 0 and seat.method == "reasoning"
            if wants_tools and toolbox is not None and _native_tools(runner, options):
                specs = toolbox.specs([n for n in options.tools if n in toolbox.names])
                if specs:
                    template = "solver_refine" if refined else "solver"
                    hint = NATIVE_TOOLS_HINT.format(names=", ".join(t.name for t in specs))
                    prompt = render(
                        template, experience=experience_text, problem=task.problem, tools=hint, format=fmt, **refined
                    )
                    return await _solve_with_native_tools(
                        runner,
                        toolbox,
                        [Message("system", system), Message("user", prompt)],
                        tags,
                        base,
                        specs=specs,
                        settings=settings,
                        answer_format=answer_format,
                        fmt=fmt,
                        repair_attempts=options.repair_attempts,
                        max_tool_calls=options.max_tool_calls,
                    )
            tools = TOOLS_HINT if wants_tools and invites_python(options.fenced_python, seat) else ""
            fenced: tuple[ToolSpec, ...] = ()
            if wants_tools and toolbox is not None and options.fenced_tools:
                fenced = toolbox.specs([n for n in options.tools if n in toolbox.names and n != "python"])
                tools += fenced_tools_hint(fenced)
            template = "solver_refine" if refined else "solver"
            prompt = render(
                template, experience=experience_text, problem=task.problem, tools=tools, format=fmt, **refined
            )
            return await _solve_by_reasoning(
                runner,
                toolbox if tools else None,
                [Message("system", system), Message("user", prompt)],
                tags,
                base,
                settings=settings,
                answer_format=answer_format,
                fmt=fmt,
                repair_attempts=options.repair_attempts,
                max_tool_calls=options.max_tool_calls,
                fenced_tools=bool(fenced),
            )
        case other:
            assert_never(other)


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
    answer_format: AnswerFormat,
    repairs: int,
    problem: str,
) -> Trajectory:
    tool_calls: list[ToolCall] = []
    text, error = "", "no program found"
    restating: Trajectory | None = None
    expression = number_target(problem) is not None
    for attempt in range(repairs + 1):
        if attempt == 0:
            response = await runner.call(history, tags, settings=settings)
        else:
            tags = CallTags(role=tags.role, agent=tags.agent, round=tags.round, purpose=f"repair{attempt}")
            repaired = await runner.follow_up(history, tags, settings=settings)
            if repaired is None:
                break
            response = repaired
        text = response.text
        code = python_block(text)
        if code is None:
            error = "cut off at the token cap" if _cut_off(response) else "no program found"
            feedback = render("repair", issue="it had no ```python block", format=PROGRAM_FORMAT)
        else:
            call = await toolbox.run_python(base.agent, code)
            tool_calls.append(call)
            runner.emit(ToolCalled(agent=base.agent, round=base.round, call=call))
            answer = program_answer(call.output, answer_format, expression=expression) if call.ok else None
            if answer is not None:
                answer = await latex_answer(toolbox, base.agent, answer, answer_format)
                attempt_out = _program_attempt(base, text, code, call.output, answer, tool_calls)
                if not restated(code, answer, problem):
                    return attempt_out
                # A program that prints a number it was written with is a vote, not an executed result:
                # it is asked again, and if no attempt computes, that vote counts without a check.
                restating = attempt_out.model_copy(update={"checks": []})
                history = [
                    *history,
                    Message("assistant", text or "(empty)"),
                    Message("user", restated_feedback(answer)),
                ]
                continue
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
    if restating is not None:
        return restating.model_copy(update={"tool_calls": tool_calls})
    return base.model_copy(
        update={"response": text.strip(), "parse_ok": False, "error": error, "tool_calls": tool_calls}
    )


def _program_attempt(
    base: Trajectory, text: str, code: str, output: str, answer: str, tool_calls: list[ToolCall]
) -> Trajectory:
    """A program seat's trajectory for a program that printed `answer`, with its executed check."""
    sections = split_sections(text, SECTIONS)
    return base.model_copy(
        update={
            "thought": sections.get("thought", ""),
            "response": f"```python\n{code}\n```\nIt printed:\n```\n{excerpt(output, 400)}\n```",
            "answer": answer,
            "tool_calls": list(tool_calls),
            "checks": [Check(kind="program", agrees=True, detail=f"its program printed {answer}")],
        }
    )


async def _solve_by_reasoning(
    runner: AgentRunner,
    toolbox: ToolBox | None,
    history: list[Message],
    tags: CallTags,
    base: Trajectory,
    *,
    settings: ModelSettings,
    answer_format: AnswerFormat,
    fmt: str,
    repair_attempts: int,
    max_tool_calls: int,
    fenced_tools: bool = False,
) -> Trajectory:
    def parse(text: str) -> SolverOutput | None:
        return parse_solution(text, answer_format)

    response = await runner.call(history, tags, settings=settings)
    text = response.text
    truncated = _cut_off(response)
    tool_calls: list[ToolCall] = []
    while toolbox is not None and len(tool_calls) < max_tool_calls and not truncated:
        asked = tool_block(text) if fenced_tools else None
        if asked is not None:
            call = await toolbox.call(base.agent, asked[0], asked[1], via="fenced")
        else:
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
        followed = await runner.follow_up(history, tool_tags, settings=settings)
        if followed is None:
            break
        text = followed.text
        truncated = _cut_off(followed)
    if truncated:
        # A chain of thought cut at the cap has no answer; its last number is a guess, not a result.
        return base.model_copy(
            update={
                "response": text.strip(),
                "parse_ok": False,
                "error": "cut off at the token cap",
                "tool_calls": tool_calls,
            }
        )
    return await _answer_of(
        runner,
        history,
        text,
        tags,
        base,
        tool_calls,
        answer_format=answer_format,
        fmt=fmt,
        repair_attempts=repair_attempts,
        settings=settings,
    )


async def _answer_of(
    runner: AgentRunner,
    history: list[Message],
    text: str,
    tags: CallTags,
    base: Trajectory,
    tool_calls: list[ToolCall],
    *,
    answer_format: AnswerFormat,
    fmt: str,
    repair_attempts: int,
    settings: ModelSettings,
) -> Trajectory:
    """A reasoning seat's final reply parsed into its trajectory, with bounded repair requests."""

    def parse(reply: str) -> SolverOutput | None:
        return parse_solution(reply, answer_format)

    parsed = await runner.ask_again(
        history, text, tags, parse, repair_format=fmt, repair_attempts=repair_attempts, settings=settings
    )
    if parsed.value is None:
        return base.model_copy(
            update={
                "response": parsed.text.strip(),
                "parse_ok": False,
                "error": "empty reply" if not parsed.text.strip() else "no final answer found",
                "tool_calls": tool_calls,
            }
        )
    out = parsed.value
    return base.model_copy(
        update={"thought": out.thought, "response": out.response, "answer": out.answer, "tool_calls": tool_calls}
    )


def _native_tools(runner: AgentRunner, options: SolverOptions) -> bool:
    """Whether this solver's tools go to the model as native definitions (see `SolverOptions`)."""
    match options.function_calling:
        case "on":
            return True
        case "off":
            return False
        case "auto":
            return supports_function_calling(runner.model, "solver")
        case other:
            assert_never(other)


def native_tool_reply(call: ToolCall) -> str:
    """A tool's result as the ``tool`` message a function-calling model reads."""
    if call.ok:
        return call.output.strip() or "(no output)"
    output = f"\n{call.output.strip()}" if call.output.strip() else ""
    return f"error: {call.error}{output}"


async def _solve_with_native_tools(
    runner: AgentRunner,
    toolbox: ToolBox,
    history: list[Message],
    tags: CallTags,
    base: Trajectory,
    *,
    specs: Sequence[ToolSpec],
    settings: ModelSettings,
    answer_format: AnswerFormat,
    fmt: str,
    repair_attempts: int,
    max_tool_calls: int,
) -> Trajectory:
    """A reasoning seat on a model that calls tools natively: each call it makes is dispatched by
    the toolbox (same tools, budget and events as fenced blocks) and answered with a ``tool``
    message, up to `max_tool_calls` calls; then its final text is parsed like any reply."""
    response = await runner.call(history, tags, settings=settings, tools=specs)
    tool_calls: list[ToolCall] = []
    while response.tool_calls and not _cut_off(response):
        history = [*history, Message("assistant", response.text, tool_calls=response.tool_calls)]
        for invocation in response.tool_calls:
            if len(tool_calls) >= max_tool_calls:
                reply = f"not run: the limit of {max_tool_calls} tool calls is reached; give your final answer"
            else:
                call = await toolbox.call(base.agent, invocation.name, invocation.arguments, via="native")
                tool_calls.append(call)
                runner.emit(ToolCalled(agent=base.agent, round=base.round, call=call))
                reply = native_tool_reply(call)
            history.append(Message("tool", reply, tool_call_id=invocation.id))
        if len(tool_calls) >= max_tool_calls:
            history.append(Message("user", f"No more tool calls. {fmt}"))
        tool_tags = CallTags(role="solver", agent=base.agent, round=base.round, purpose=f"tool{len(tool_calls)}")
        followed = await runner.follow_up(history, tool_tags, settings=settings, tools=specs)
        if followed is None:
            break
        response = followed
    text = response.text
    if _cut_off(response) or (response.tool_calls and not text.strip()):
        error = "cut off at the token cap" if _cut_off(response) else "still calling tools at the tool-call limit"
        return base.model_copy(
            update={"response": text.strip(), "parse_ok": False, "error": error, "tool_calls": tool_calls}
        )
    return await _answer_of(
        runner,
        history,
        text,
        tags,
        base,
        tool_calls,
        answer_format=answer_format,
        fmt=fmt,
        repair_attempts=repair_attempts,
        settings=settings,
    )
