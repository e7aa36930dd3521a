"""`AgentRunner`: the one place where agents call the model, and what a spent budget means.

Budgets, the usage ledger, `ModelCalled` events and bounded repair requests live here, once, so the
role modules only build prompts and parse replies. Every call a runner makes, failed ones included,
goes into its `Ledger`, which the graph turns into the state's ``calls``, ``budget_stop`` and
``failures``; roles return their values only.

The budget policy, in one place:

* `AgentRunner.call` raises `BudgetExceeded` when the budget is spent: the role has nothing yet.
* `AgentRunner.follow_up` (a repair, a tool round, a debugging attempt) returns None instead: the
  role stops there and keeps what it has.
* `AgentRunner.attempt` runs a role and turns a `BudgetExceeded` out of it into `Spent` (the ledger
  keeps the first such kind: the solve stops after this round) and a provider failure into `Failed`
  (recorded as a failure the solve survived, ignored, or raised, as the caller says).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from typing_extensions import assert_never

from xolver.agents.templates import render
from xolver.errors import BudgetExceeded, BudgetKind, ModelError
from xolver.events import AgentToken, ModelCalled
from xolver.models.base import (
    CallTags,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    StreamingModel,
    ToolSpec,
)
from xolver.solution import CallRecord
from xolver.tracing import model_call_span

__all__ = ["AgentRunner", "Budget", "Failed", "Ledger", "Parsed", "Spent", "failure_text"]

T = TypeVar("T")


@dataclass
class Budget:
    """Limits of one solve and what has been spent. Checked before every model call.

    A call in flight is not interrupted by the call, token or dollar limits (those can overshoot by
    one call); the wall-clock limit cancels the call in flight. A call answered from the model-call
    cache counts as a call and its tokens, so a budget stops a solve at the same point with the
    cache as without it, but it costs nothing.
    """

    max_calls: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None
    max_cost: float | None = None
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def check(self) -> None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise BudgetExceeded("calls", f"model-call budget of {self.max_calls} spent")
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExceeded("tokens", f"token budget of {self.max_tokens} spent")
        if self.remaining_seconds() is not None and (self.remaining_seconds() or 0.0) <= 0:
            raise BudgetExceeded("seconds", f"time budget of {self.max_seconds:g} s spent")
        if self.max_cost is not None and self.cost >= self.max_cost:
            raise BudgetExceeded("cost", f"dollar budget of ${self.max_cost:g} spent (${self.cost:.4f})")

    def remaining_seconds(self) -> float | None:
        if self.max_seconds is None:
            return None
        return self.max_seconds - (time.monotonic() - self.started)

    def record(self, call: CallRecord) -> None:
        self.calls += 1
        self.tokens += call.prompt_tokens + call.completion_tokens
        self.cost += call.cost


@dataclass
class Ledger:
    """What the agent runners of one graph step spent, and what stopped them.

    Attributes:
        calls: every model call, in the order made (failed calls included).
        spent: the first budget that stopped a role (`AgentRunner.attempt`), else None.
        failures: provider failures the step survived, as ``"<where>: <Class>: <message>"``.
    """

    calls: list[CallRecord] = field(default_factory=list)
    spent: BudgetKind | None = None
    failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Spent:
    """A role the budget stopped before it had a result."""

    kind: BudgetKind


@dataclass(frozen=True)
class Failed:
    """A role whose model provider failed (after its retries)."""

    error: ModelError


ProviderErrors = Literal["record", "ignore", "raise"]


def failure_text(where: str, error: ModelError) -> str:
    """A failure the solve survived, as recorded in `Solution.failures`: ``"<where>: <Class>: <message>"``."""
    return f"{where}: {type(error).__name__}: {error}"


@dataclass
class Parsed(Generic[T]):
    """A parsed reply: the value (None when unparseable) and the raw text it was read from."""

    value: T | None
    text: str


class AgentRunner:
    """Calls the model for an agent, recording usage in its ledger and enforcing the budget.

    Args:
        model: the backbone.
        budget: the solve's budget (shared by all agents of the solve).
        emit: sink for `ModelCalled` events (LangGraph's stream writer in the graph).
        settings: default generation settings.
        stream_tokens: emit `AgentToken` events while the model generates, when it can stream.
        ledger: where the calls go; runners of one graph step share one (default: a new one).
    """

    def __init__(
        self,
        model: Model,
        budget: Budget,
        *,
        emit: Callable[[Any], None] | None = None,
        settings: ModelSettings | None = None,
        stream_tokens: bool = False,
        ledger: Ledger | None = None,
    ) -> None:
        self.model = model
        self.budget = budget
        self._emit = emit or (lambda event: None)
        self.settings = settings or ModelSettings()
        self.stream_tokens = stream_tokens
        self.ledger = ledger if ledger is not None else Ledger()

    def emit(self, event: Any) -> None:
        """Send an event to the solve's stream."""
        self._emit(event)

    async def call(
        self,
        messages: Sequence[Message],
        tags: CallTags,
        *,
        settings: ModelSettings | None = None,
        tools: Sequence[ToolSpec] = (),
    ) -> ModelResponse:
        """One model call, recorded in the ledger and the budget and announced as `ModelCalled`.

        `tools` are offered as native tool definitions (for models that call tools natively).

        Raises:
            BudgetExceeded: the budget was spent before (or, for time, during) the call.
            ModelError: the provider failed after its retries (the failed call is in the ledger).
        """
        self.budget.check()
        request = ModelRequest(
            messages=tuple(messages), settings=settings or self.settings, tags=tags, tools=tuple(tools)
        )
        started = time.monotonic()
        remaining = self.budget.remaining_seconds()
        model = self.model
        if self.stream_tokens and isinstance(model, StreamingModel):

            def on_text(text: str) -> None:
                self._emit(AgentToken(role=tags.role, agent=tags.agent, round=tags.round, text=text))

            pending = model.complete_streaming(request, on_text)
        else:
            pending = model.complete(request)
        with model_call_span(model, request) as span:
            try:
                if remaining is None:
                    response = await pending
                else:
                    response = await asyncio.wait_for(pending, timeout=max(0.0, remaining))
            except asyncio.TimeoutError as e:
                raise BudgetExceeded("seconds", f"time budget of {self.budget.max_seconds:g} s spent") from e
            except ModelError as e:
                self._emit(ModelCalled(call=self._record(tags, None, time.monotonic() - started, error=str(e))))
                raise
            span.response(response)
        self._emit(ModelCalled(call=self._record(tags, response, time.monotonic() - started)))
        return response

    async def follow_up(
        self,
        messages: Sequence[Message],
        tags: CallTags,
        *,
        settings: ModelSettings | None = None,
        tools: Sequence[ToolSpec] = (),
    ) -> ModelResponse | None:
        """A call that continues a role which already has a result (a repair, a tool round, a
        debugging attempt): None when the budget is spent, so the role keeps what it has.

        Raises:
            ModelError: the provider failed after its retries.
        """
        try:
            return await self.call(messages, tags, settings=settings, tools=tools)
        except BudgetExceeded:
            return None

    async def attempt(self, role: Awaitable[T], *, where: str, errors: ProviderErrors = "record") -> T | Spent | Failed:
        """Run a role: its value, or why it has none.

        A spent budget is `Spent` (the ledger keeps the first kind; the graph stops the solve after
        the round). A provider failure is `Failed`: recorded in the ledger's failures as a failure of
        `where` (``errors="record"``), or not (``"ignore"``), or raised (``"raise"``).
        """
        try:
            return await role
        except BudgetExceeded as e:
            self.ledger.spent = self.ledger.spent or e.kind
            return Spent(e.kind)
        except ModelError as e:
            match errors:
                case "record":
                    self.ledger.failures.append(failure_text(where, e))
                case "ignore":
                    pass
                case "raise":
                    raise
                case other:
                    assert_never(other)
            return Failed(e)

    def _record(
        self, tags: CallTags, response: ModelResponse | None, seconds: float, *, error: str | None = None
    ) -> CallRecord:
        record = CallRecord(
            role=tags.role,
            agent=tags.agent,
            round=tags.round,
            purpose=tags.purpose,
            model=(response.model if response else "") or self.model.name,
            prompt_tokens=response.usage.prompt_tokens if response else 0,
            completion_tokens=response.usage.completion_tokens if response else 0,
            cost=response.cost if response else 0.0,
            seconds=round(seconds, 4),
            ok=error is None,
            error=error,
            finish_reason=response.finish_reason if response else None,
            cached=response.cached if response else False,
        )
        self.budget.record(record)
        self.ledger.calls.append(record)
        return record

    async def ask(
        self,
        messages: Sequence[Message],
        tags: CallTags,
        parse: Callable[[str], T | None],
        *,
        repair_format: str,
        repair_attempts: int,
        settings: ModelSettings | None = None,
    ) -> Parsed[T]:
        """Call the model and parse the reply; on a parse failure, send up to `repair_attempts`
        repair requests that quote the problem with the reply and restate the format.

        The first call raises on a spent budget; a repair the budget stops returns the failure, so
        a role that got one answer keeps it.
        """
        response = await self.call(messages, tags, settings=settings)
        return await self.ask_again(
            messages,
            response.text,
            tags,
            parse,
            repair_format=repair_format,
            repair_attempts=repair_attempts,
            settings=settings,
        )

    async def ask_again(
        self,
        messages: Sequence[Message],
        text: str,
        tags: CallTags,
        parse: Callable[[str], T | None],
        *,
        repair_format: str,
        repair_attempts: int,
        settings: ModelSettings | None = None,
    ) -> Parsed[T]:
        """Parse a reply already received for `messages`, sending repair requests when it fails."""
        value = parse(text)
        history = list(messages)
        for attempt in range(repair_attempts):
            if value is not None:
                break
            issue = "it was empty" if not text.strip() else "it did not follow the format"
            history += [
                Message("assistant", text or "(empty)"),
                Message("user", render("repair", issue=issue, format=repair_format)),
            ]
            repair_tags = CallTags(role=tags.role, agent=tags.agent, round=tags.round, purpose=f"repair{attempt + 1}")
            response = await self.follow_up(history, repair_tags, settings=settings)
            if response is None:
                break
            text = response.text
            value = parse(text)
        return Parsed(value=value, text=text)
