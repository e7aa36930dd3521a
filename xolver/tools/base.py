"""The tool seam: what an agent can call, and what comes back.

A tool is anything with a name, a description, a pydantic model for its arguments and an async `run`
that returns a `ToolResult`. Failures of the *work* (a snippet raised, a proof was rejected, a check
timed out) are results with ``ok=False``, never exceptions: agents read them as the next message.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

__all__ = ["Tool", "ToolResult"]

ArgsT = TypeVar("ArgsT", bound=BaseModel)


class ToolResult(BaseModel):
    """What one tool call returned.

    Attributes:
        ok: whether the tool did its work (a check that *refutes* a claim is still ``ok``).
        output: text for the agent to read (already truncated to a sensible size).
        error: a one-line reason when ``ok`` is false.
        seconds: wall time of the call.
    """

    model_config = ConfigDict(frozen=True)

    ok: bool
    output: str = ""
    error: str | None = None
    seconds: float = 0.0


@runtime_checkable
class Tool(Protocol[ArgsT]):
    """Something an agent can call: a name, a description, typed arguments and an async `run`."""

    name: str
    description: str
    args_model: type[ArgsT]

    async def run(self, args: ArgsT) -> ToolResult:
        """Do the work and report it; never raise for failures of the work itself."""
        ...
