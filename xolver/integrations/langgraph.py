"""The Xolver graph as a node of a user's own LangGraph `StateGraph`.

`xolver_node` returns an async node function. It maps the parent's state to the Xolver graph's
input (``{"problem": ...}``), runs the compiled graph as a subgraph with its dependencies passed
as runtime context (model, memory, budget, the Python sandbox), and maps the result back to a parent state update.

Because the graph runs inside the node with the parent's run config, LangGraph treats it as a
subgraph: it uses the parent's checkpointer (no checkpointer of its own), and its custom events
(`xolver.events`) and node updates stream through the parent with ``subgraphs=True``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig

from xolver.errors import UserError
from xolver.graph.builder import build_graph
from xolver.graph.result import solution_from_state
from xolver.runtime import run_config
from xolver.solution import Solution

if TYPE_CHECKING:
    from xolver.api import Xolver

__all__ = ["solution_from_state", "xolver_node"]

StateMap = Callable[[Mapping[str, Any]], str]
OutputMap = Callable[[Solution], dict[str, Any]]
NodeFunction = Callable[[Mapping[str, Any], RunnableConfig], Awaitable[dict[str, Any]]]


def xolver_node(
    xolver: Xolver,
    *,
    problem: str | StateMap = "problem",
    output: str | OutputMap = "answer",
    namespace: str | StateMap | None = None,
) -> NodeFunction:
    """A LangGraph node that solves a problem from the parent state with `xolver`'s team.

    Args:
        xolver: supplies the model, memory store and config (team size, rounds, namespace, ...):
            the node runs on its `SolveRuntime`, so the store the config names is opened on the
            first run (as for `Xolver.solve`) and each run gets its own budget and Python sandbox.
        problem: the parent state key holding the problem text, or a function of the state.
        output: the parent state key the answer is written to, or a function mapping the
            `Solution` to a state update (e.g. ``lambda s: {"answer": s.answer, "cost": ...}``).
        namespace: where the memory namespace comes from per run: a state key, a function of the
            state, or None for the config's namespace. Lets one graph serve several tenants.

    Returns:
        An async node function ``(state, config) -> update`` for ``StateGraph.add_node``.

    Example:
        >>> builder = StateGraph(MyState)
        >>> builder.add_node("solve", xolver_node(Xolver("openai/gpt-4o-mini"), problem="question"))
        >>> graph = builder.compile(checkpointer=InMemorySaver())
    """

    def pick(spec: str | StateMap, state: Mapping[str, Any]) -> Any:
        if callable(spec):
            return spec(state)
        if spec not in state:
            raise UserError(f"the parent state has no {spec!r} key for xolver_node")
        return state[spec]

    async def node(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
        text = pick(problem, state)
        if not isinstance(text, str) or not text.strip():
            raise UserError("xolver_node got an empty problem")
        cfg = xolver.config
        if namespace is not None:
            ns = pick(namespace, state)
            if ns and ns != cfg.namespace:
                cfg = cfg.model_copy(update={"namespace": str(ns)})
        # One compiled graph serves every config: the solve's config travels in its context.
        async with xolver.runtime.solve_context(cfg) as context:
            final = await build_graph().ainvoke(
                {"problem": text.strip()}, config=run_config(cfg, base=config), context=context
            )
        solution = solution_from_state(final, model=xolver.model.name, answer_format=cfg.answer_format)
        if callable(output):
            return output(solution)
        return {output: solution.answer}

    return node
