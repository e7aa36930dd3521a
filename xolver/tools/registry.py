"""Tools by name: their JSON schemas for native function calling, and typed tools from functions.

A tool is anything that satisfies `xolver.tools.base.Tool`: a ``name``, a ``description``, an
``args_model`` (a pydantic model: its JSON schema is what a function-calling model is shown) and an
async ``run(args) -> ToolResult``. `function_tool` makes one from a typed Python function. Give your
tools to a solve with ``Xolver(..., tools=[...])`` and name them in ``XolverConfig.tools``; the
`ToolBox` dispatches every call, native or fenced, through `ToolBox.call`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, create_model

from xolver.errors import UserError
from xolver.models.base import ToolSpec
from xolver.tools.base import Tool, ToolResult

__all__ = ["FunctionTool", "PythonArgs", "function_tool", "tool_spec"]


class PythonArgs(BaseModel):
    """Arguments of the `python` tool."""

    code: str = Field(description="Python code to run in your stateful session; print what you need to see.")


def tool_spec(tool: Tool[Any]) -> ToolSpec:
    """The native tool definition of `tool`: its name, description and arguments' JSON schema."""
    schema = tool.args_model.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("type", "object")
    return ToolSpec(name=tool.name, description=tool.description, parameters=schema)


class FunctionTool:
    """A tool made from a typed function (see `function_tool`)."""

    def __init__(
        self, function: Callable[..., Any], *, name: str, description: str, args_model: type[BaseModel]
    ) -> None:
        self.function = function
        self.name = name
        self.description = description
        self.args_model = args_model

    async def run(self, args: BaseModel) -> ToolResult:
        """Call the function with the validated arguments; a raised error is a failed result."""
        started = time.perf_counter()
        try:
            value = self.function(**{k: getattr(args, k) for k in type(args).model_fields})
            if inspect.isawaitable(value):
                value = await value
        except Exception as e:  # the caller is a model: it reads the error and tries again
            error = f"{type(e).__name__}: {e}"
            return ToolResult(ok=False, output=error, error=error, seconds=time.perf_counter() - started)
        if isinstance(value, ToolResult):
            return value
        return ToolResult(ok=True, output=str(value), seconds=time.perf_counter() - started)


@overload
def function_tool(
    function: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionTool: ...


@overload
def function_tool(
    function: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    function: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Make a tool from a typed function (sync or async); usable as ``@function_tool`` too.

    Its parameters (every one annotated) become the arguments model, its docstring's first
    paragraph the description, and what it returns (a `ToolResult`, or anything, as text) the result.

    Example:
        >>> @function_tool
        ... def is_prime(n: int) -> bool:
        ...     '''Whether n is a prime number.'''
        ...     return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))
        >>> is_prime.name, sorted(is_prime.args_model.model_fields)
        ('is_prime', ['n'])

    Raises:
        UserError: a parameter has no annotation, or the name is not an identifier.
    """

    def build(fn: Callable[..., Any]) -> FunctionTool:
        tool_name = name or fn.__name__
        if not tool_name.isidentifier():
            raise UserError(f"a tool name must be an identifier, got {tool_name!r}")
        hints = get_type_hints(fn)
        fields: dict[str, Any] = {}
        for param in inspect.signature(fn).parameters.values():
            if param.name not in hints:
                raise UserError(f"tool {tool_name!r}: parameter {param.name!r} needs a type annotation")
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (hints[param.name], default)
        model = create_model(f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields)
        text = description or (inspect.getdoc(fn) or tool_name).split("\n\n")[0].strip()
        return FunctionTool(fn, name=tool_name, description=text, args_model=model)

    return build(function) if function is not None else build


async def run_with_timeout(call: Awaitable[ToolResult], timeout: float) -> ToolResult:
    """`call`, or a failed result when it takes longer than `timeout` seconds."""
    try:
        return await asyncio.wait_for(call, timeout)
    except asyncio.TimeoutError:
        return ToolResult(ok=False, error=f"the tool did not finish in {timeout:g} s", seconds=timeout)
