"""`Step`: one node run's model work, and how it enters the state.

A node makes its agent runners through its `Step`, so they share one `Ledger`; `Step.update` turns
that ledger into the state's ``calls``, ``budget_stop`` and ``failures``. What a spent budget or a
failed provider means for a role is decided by `AgentRunner` (`call`, `follow_up`, `attempt`); the
node only picks the role's fallback value.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from xolver.agents.runner import AgentRunner, Ledger
from xolver.config import XolverConfig
from xolver.events import Event
from xolver.graph import codec
from xolver.graph.state import SolveContext
from xolver.models import completion_cap
from xolver.models.base import ModelSettings

__all__ = ["Step"]


class Step:
    """The model work of one node run: runners that share one ledger, and its state update.

    Args:
        runtime: the node's LangGraph runtime (its context carries model, budget, config, ...).
    """

    def __init__(self, runtime: Runtime[SolveContext]) -> None:
        self.runtime = runtime
        self.context: SolveContext = runtime.context
        self.config: XolverConfig = runtime.context.config
        self.ledger = Ledger()

    def emit(self, event: Event) -> None:
        """Send an event to the solve's stream."""
        self.runtime.stream_writer(event)

    def runner(self, *, cap: int | None = None) -> AgentRunner:
        """An agent runner on this step's ledger; `cap` bounds the completion of roles whose
        replies are short by design."""
        ctx, cfg = self.context, self.config
        max_tokens = cfg.max_tokens
        if cap is not None:
            # A reasoning model thinks before it answers: a short role cap would leave it no answer.
            cap = completion_cap(ctx.model, cap)
            max_tokens = cap if max_tokens is None or cap is None else min(cap, max_tokens)
        settings = ModelSettings(
            temperature=cfg.temperature, max_tokens=max_tokens, seed=cfg.seed, timeout=cfg.request_timeout
        )
        return AgentRunner(
            ctx.model,
            ctx.budget,
            emit=self.runtime.stream_writer,
            settings=settings,
            stream_tokens=cfg.stream_tokens,
            ledger=self.ledger,
        )

    def update(self, **channels: Any) -> dict[str, Any]:
        """The node's state update: `channels`, plus every call its runners made, the budget that
        stopped a role (first one wins across the solve) and the failures it survived."""
        update = dict(channels)
        update["calls"] = codec.dump_all(self.ledger.calls)
        if self.ledger.spent is not None:
            update["budget_stop"] = self.ledger.spent
        if self.ledger.failures:
            update["failures"] = list(self.ledger.failures)
        return update
