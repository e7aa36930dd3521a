"""The solver: one per planned role; answers with a thought, a response and a final answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel

from xolver.agents.parsing import extract_answer, extract_code_block, normalize_answer, split_sections
from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.errors import BudgetExceeded
from xolver.events import ToolCalled
from xolver.models.base import CallTags, Message
from xolver.solution import CallRecord, Exemplar, ToolCall, Trajectory
from xolver.tools.toolbox import ToolBox

__all__ = ["SolverOutput", "format_experience", "format_shared", "parse_solution", "solve"]

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


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit // 3] + "\n[...]\n" + text[-(2 * limit) // 3 :]


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
        score = "unscored" if e.score is None else f"score {e.score:.2f}"
        head = f"[{e.role}, round {e.round}, {score}] final answer: {e.answer if e.answer is not None else '(none)'}"
        body = excerpt(e.response, 600)
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


def answer_supported(answer: str | None, output: str) -> bool:
    """Whether a snippet's output states the agent's answer (as a whole token, after normalising)."""
    if answer is None or not output.strip():
        return False
    target = normalize_answer(answer)
    tokens = {normalize_answer(t) for t in re.findall(r"-?[\w./]+", output)}
    return bool(target) and target in tokens


def tool_feedback(call: ToolCall) -> str:
    status = "ran" if call.ok else f"failed: {call.error}"
    return (
        f"Your Python code {status}. Output:\n```\n{call.output.strip() or '(no output)'}\n```\n"
        "Use this to finish. End with: Final answer: \\boxed{<answer>}"
    )


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
) -> tuple[Trajectory, list[CallRecord]]:
    """One agent's attempt in one round. Round 0 (or no previous attempt) solves from scratch.

    With a toolbox, Python blocks in the reply are run in the agent's sandbox session and the
    output is sent back, up to `max_tool_calls` times; a reply whose final answer the output
    already confirms ends the loop early.
    """
    experience = format_experience(exemplars)
    if answer_format == "code":
        # The program is the answer and the tests judge it; running it as a "tool" would only echo it.
        toolbox = None
    tools = TOOLS_HINT if toolbox is not None and max_tool_calls > 0 else ""
    fmt = reply_format(answer_format)
    system = render("solver_system", role=role)
    if round_index == 0 or previous is None:
        prompt = render("solver", experience=experience, problem=problem, tools=tools, format=fmt)
    else:
        prompt = render(
            "solver_refine",
            experience=experience,
            problem=problem,
            tools=tools,
            format=fmt,
            previous=excerpt(previous.response) + f"\nFinal answer: {previous.answer}",
            shared=format_shared(shared, with_critique=share_critique),
        )
    tags = CallTags(role="solver", agent=agent, round=round_index)
    history = [Message("system", system), Message("user", prompt)]

    def parse(text: str) -> SolverOutput | None:
        return parse_solution(text, answer_format)

    response, record = await runner.call(history, tags)
    calls = [record]
    text = response.text
    tool_calls: list[ToolCall] = []
    while toolbox is not None and len(tool_calls) < max_tool_calls:
        code = python_block(text)
        if code is None:
            break
        call = await toolbox.run_python(agent, code)
        tool_calls.append(call)
        runner.emit(ToolCalled(agent=agent, round=round_index, call=call))
        stated = parse(text)
        if stated is not None and call.ok and answer_supported(stated.answer, call.output):
            break
        history = [*history, Message("assistant", text), Message("user", tool_feedback(call))]
        tool_tags = CallTags(role="solver", agent=agent, round=round_index, purpose=f"tool{len(tool_calls)}")
        try:
            response, record = await runner.call(history, tool_tags)
        except BudgetExceeded:
            break
        calls.append(record)
        text = response.text
    parsed = await runner.ask_again(history, text, tags, parse, repair_format=fmt, repair_attempts=repair_attempts)
    calls.extend(parsed.calls)
    if parsed.value is None:
        return (
            Trajectory(
                agent=agent,
                role=role,
                round=round_index,
                response=parsed.text.strip(),
                answer=None,
                parse_ok=False,
                error="empty reply" if not parsed.text.strip() else "no final answer found",
                tool_calls=tool_calls,
            ),
            calls,
        )
    out = parsed.value
    return (
        Trajectory(
            agent=agent,
            role=role,
            round=round_index,
            thought=out.thought,
            response=out.response,
            answer=out.answer,
            tool_calls=tool_calls,
        ),
        calls,
    )
