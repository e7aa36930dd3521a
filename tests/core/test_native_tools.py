"""Tools through one seam: a function-calling model gets native tool definitions, fenced-block
models keep fenced blocks, and both run through `ToolBox.call` with the same budget and events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests._support.scripts import PLAN
from xolver import Xolver
from xolver.events import SolveFinished, ToolCalled
from xolver.models.base import ModelResponse, supports_function_calling
from xolver.models.testing import ScriptedModel, tool_call
from xolver.tools.base import ToolResult
from xolver.tools.registry import function_tool, tool_spec
from xolver.tools.toolbox import ToolBox

FINAL = "The check says it holds.\nFinal answer: \\boxed{391}"


def _solve(model: ScriptedModel, **options: Any) -> tuple[list[Any], Any]:
    xo = Xolver(model, agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None, **options)
    events = list(xo.stream("What is 17 * 23?"))
    final = events[-1]
    assert isinstance(final, SolveFinished)
    return events, final.solution


def test_function_calling_model_gets_tool_definitions_and_calls_python_natively() -> None:
    script = {"planner": [PLAN], "solver": [tool_call("python", code="print(17 * 23)"), FINAL]}
    with ScriptedModel(script, function_calling=True) as model:
        events, solution = _solve(model)
    assert solution.answer == "391"
    first = model.requests[1]
    assert [t.name for t in first.tools] == ["python", "sympy_check", "z3_check"]
    assert first.tools[0].parameters["properties"]["code"]["type"] == "string"
    assert "```python" not in first.messages[-1].content  # no fenced-block instructions
    follow_up = model.requests[2].messages
    assert follow_up[-2].role == "assistant" and follow_up[-2].tool_calls[0].name == "python"
    assert follow_up[-1].role == "tool" and follow_up[-1].content == "391"
    assert follow_up[-1].tool_call_id == follow_up[-2].tool_calls[0].id
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert (call.tool, call.via, call.output.strip()) == ("python", "native", "391")
    (event,) = [e for e in events if isinstance(e, ToolCalled)]
    assert event.call.via == "native" and "ran python (native call): 391" in (event.describe() or "")
    assert '"via":"native"' in solution.model_dump_json()


def test_native_z3_counterexample_reaches_the_model() -> None:
    claim = tool_call("z3_check", claim="x * x > x", language="python", variables={"x": "Int"})
    with ScriptedModel({"planner": [PLAN], "solver": [claim, FINAL]}, function_calling=True) as model:
        _, solution = _solve(model)
    reply = model.requests[2].messages[-1]
    assert reply.role == "tool" and reply.content.startswith("fails") and "counterexample: x =" in reply.content
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert call.tool == "z3_check" and call.ok


def test_fenced_models_keep_fenced_blocks() -> None:
    script = {"planner": [PLAN], "solver": ["Thought: let me compute it.\n```python\nprint(17 * 23)\n```", FINAL]}
    with ScriptedModel(script) as model:
        _, solution = _solve(model, fenced_python=True)
    assert all(not r.tools for r in model.requests)
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert call.via == "fenced"
    assert not supports_function_calling(model)


def test_function_calling_off_keeps_the_fenced_path_for_a_function_calling_model() -> None:
    script = {"planner": [PLAN], "solver": ["Thought: let me compute it.\n```python\nprint(17 * 23)\n```", FINAL]}
    with ScriptedModel(script, function_calling=True) as model:
        _solve(model, function_calling="off", fenced_python=True)
    assert all(not r.tools for r in model.requests)


def test_bad_tool_calls_come_back_as_errors_the_model_reads() -> None:
    bad = ModelResponse(text="", tool_calls=tool_call("python", code="1").tool_calls)
    bad = ModelResponse(text="", tool_calls=(bad.tool_calls[0].__class__("c1", "nope", "{}"),))
    script = {"planner": [PLAN], "solver": [bad, tool_call("python", wrong="x"), FINAL]}
    with ScriptedModel(script, function_calling=True) as model:
        _, solution = _solve(model)
    replies = [r.messages[-1].content for r in model.requests[2:]]
    assert replies[0].startswith("error: unknown tool 'nope'")
    assert replies[1].startswith("error: invalid arguments for python: code: Field required")
    assert solution.answer == "391"


def test_tool_call_limit_is_the_same_budget() -> None:
    calls = [tool_call("python", code=f"print({i})") for i in range(3)]
    script = {"planner": [PLAN], "solver": [*calls, FINAL]}
    with ScriptedModel(script, function_calling=True) as model:
        _, solution = _solve(model, max_tool_calls=2)
    assert len(solution.rounds[0].trajectories[0].tool_calls) == 2
    last = model.requests[-1].messages
    assert "not run: the limit of 2 tool calls" in last[-2].content and last[-1].role == "user"


@function_tool
def is_prime(n: int) -> bool:
    """Whether n is a prime number."""
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


def test_a_user_tool_is_offered_and_dispatched() -> None:
    spec = tool_spec(is_prime)
    assert spec.parameters["properties"]["n"]["type"] == "integer" and spec.parameters["required"] == ["n"]
    script = {"planner": [PLAN], "solver": [tool_call("is_prime", n=391), FINAL]}
    with ScriptedModel(script, function_calling=True) as model:
        xo = Xolver(
            model, agents=1, rounds=0, methods=["reasoning"], blind_check=False, memory=None, custom_tools=[is_prime]
        )
        solution = xo.solve("What is 17 * 23?")
    assert "is_prime" in [t.name for t in model.requests[1].tools]
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert (call.tool, call.output, json.loads(call.input)) == ("is_prime", "False", {"n": 391})


def test_a_class_tool_follows_the_protocol() -> None:
    from pydantic import BaseModel

    class EchoArgs(BaseModel):
        text: str

    class Echo:
        name = "echo"
        description = "Say it back."
        args_model = EchoArgs

        async def run(self, args: EchoArgs) -> ToolResult:
            return ToolResult(ok=True, output=args.text.upper())

    async def go() -> None:
        box = ToolBox(tools=[Echo()])
        assert box.names == ("python", "sympy_check", "z3_check", "echo")
        call = await box.call(0, "echo", '{"text": "hi"}')
        assert (call.ok, call.output) == (True, "HI")
        not_json = await box.call(0, "echo", "{oops")
        assert not not_json.ok and "invalid arguments" in (not_json.error or "")
        await box.aclose()

    asyncio.run(go())


def test_a_taken_tool_name_is_a_user_error() -> None:
    from xolver.errors import UserError

    @function_tool(name="python")
    def shadow(code: str) -> str:
        return code

    with pytest.raises(UserError, match="taken"):
        ToolBox(tools=[shadow])


def test_the_chat_view_shows_a_native_tool_call() -> None:
    import io

    from rich.console import Console

    from xolver.ui.progress import SolveView

    script = {"planner": [PLAN], "solver": [tool_call("python", code="print(17 * 23)"), FINAL]}
    with ScriptedModel(script, function_calling=True) as model:
        events, _ = _solve(model)
    view = SolveView(clock=lambda: 0.0)
    for event in events:
        view.update(event)
        if isinstance(event, ToolCalled):
            break
    out = io.StringIO()
    Console(file=out, width=120).print(view)
    assert "[python output, native call] 391" in out.getvalue()


def test_fenced_tool_blocks_are_opt_in_for_models_without_native_calls() -> None:
    arguments = {"claim": "x * x >= 0", "language": "python", "variables": {"x": "Int"}}
    block = "```tool\n" + json.dumps({"name": "z3_check", "arguments": arguments}) + "\n```"
    script = {"planner": [PLAN], "solver": [f"Thought: check it.\n{block}", FINAL]}
    with ScriptedModel(script) as model:
        _, solution = _solve(model, fenced_tools=True)
    prompt = model.requests[1].messages[-1].content
    assert "```tool block" in prompt and "- z3_check:" in prompt and "- python:" not in prompt
    (call,) = solution.rounds[0].trajectories[0].tool_calls
    assert (call.tool, call.via, call.ok) == ("z3_check", "fenced", True) and call.output.startswith("holds")
    assert "Your z3_check call ran" in model.requests[2].messages[-1].content
    assert all(not r.tools for r in model.requests)


def test_without_fenced_tools_the_prompt_is_todays() -> None:
    script = {"planner": [PLAN], "solver": [FINAL]}
    with ScriptedModel(script) as model:
        _solve(model)
    assert "```tool" not in model.requests[1].messages[-1].content
