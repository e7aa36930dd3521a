"""`AgentRunner`: the one place where agents call the model.

Budgets, the usage ledger, `ModelCalled` events and bounded repair requests live here, once, so the
role modules only build prompts and parse replies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from xolver.agents.templates import render
from xolver.errors import BudgetExceeded, ModelError
from xolver.events import AgentToken, ModelCalled
from xolver.models.base import CallTags, Message, Model, ModelRequest, ModelResponse, ModelSettings, StreamingModel
from xolver.solution import CallRecord

__all__ = ["AgentRunner", "Budget", "Parsed"]

T = TypeVar("T")


@dataclass
class Budget:
    """Limits of one solve and what has been spent. Checked before every model call.

    A call in flight is not interrupted by the call or token limits (the token limit can overshoot
    by one call); the wall-clock limit cancels the call in flight.
    """

    max_calls: int | None = None
    max_tokens: int | None = None
    max_seconds: float | None = None
    calls: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    def check(self) -> None:
        if self.max_calls is not None and self.calls >= self.max_calls:
            raise BudgetExceeded("calls", f"model-call budget of {self.max_calls} spent")
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExceeded("tokens", f"token budget of {self.max_tokens} spent")
        if self.remaining_seconds() is not None and (self.remaining_seconds() or 0.0) <= 0:
            raise BudgetExceeded("seconds", f"time budget of {self.max_seconds:g} s spent")

    def remaining_seconds(self) -> float | None:
        if self.max_seconds is None:
            return None
        return self.max_seconds - (time.monotonic() - self.started)

    def record(self, call: CallRecord) -> None:
        self.calls += 1
        self.tokens += call.prompt_tokens + call.completion_tokens


@dataclass
class Parsed(Generic[T]):
    """A parsed reply: the value (None when unparseable), the raw text, and the ledger entries."""

    value: T | None
    text: str
    calls: list[CallRecord]


class AgentRunner:
    """Calls the model for an agent, recording usage and enforcing the budget.

    Args:
        model: the backbone.
        budget: the solve's budget (shared by all agents of the solve).
        emit: sink for `ModelCalled` events (LangGraph's stream writer in the graph).
        settings: default generation settings.
        stream_tokens: emit `AgentToken` events while the model generates, when it can stream.
    """

    def __init__(
        self,
        model: Model,
        budget: Budget,
        *,
        emit: Callable[[Any], None] | None = None,
        settings: ModelSettings | None = None,
        stream_tokens: bool = False,
    ) -> None:
        self.model = model
        self.budget = budget
        self._emit = emit or (lambda event: None)
        self.settings = settings or ModelSettings()
        self.stream_tokens = stream_tokens
        # Every call this runner made, failed ones included: a role that fails midway still reports
        # what it spent.
        self.records: list[CallRecord] = []

    def emit(self, event: Any) -> None:
        """Send an event to the solve's stream."""
        self._emit(event)

    async def call(
        self, messages: Sequence[Message], tags: CallTags, *, settings: ModelSettings | None = None
    ) -> tuple[ModelResponse, CallRecord]:
        """One model call.

        Raises:
            BudgetExceeded: the budget was spent before (or, for time, during) the call.
            ModelError: the provider failed after its retries.
        """
        self.budget.check()
        request = ModelRequest(messages=tuple(messages), settings=settings or self.settings, tags=tags)
        started = time.monotonic()
        remaining = self.budget.remaining_seconds()
        model = self.model
        if self.stream_tokens and isinstance(model, StreamingModel):

            def on_text(text: str) -> None:
                self._emit(AgentToken(role=tags.role, agent=tags.agent, round=tags.round, text=text))

            pending = model.complete_streaming(request, on_text)
        else:
            pending = model.complete(request)
        try:
            if remaining is None:
                response = await pending
            else:
                response = await asyncio.wait_for(pending, timeout=max(0.0, remaining))
        except asyncio.TimeoutError as e:
            raise BudgetExceeded("seconds", f"time budget of {self.budget.max_seconds:g} s spent") from e
        except ModelError as e:
            failed = self._record(tags, None, time.monotonic() - started, error=str(e))
            self._emit(ModelCalled(call=failed))
            raise
        record = self._record(tags, response, time.monotonic() - started)
        self._emit(ModelCalled(call=record))
        return response, record

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
        )
        self.budget.record(record)
        self.records.append(record)
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

        A budget running out during a repair returns the failure instead of raising, so a role
        that got one answer keeps it.
        """
        response, record = await self.call(messages, tags, settings=settings)
        parsed = await self.ask_again(
            messages,
            response.text,
            tags,
            parse,
            repair_format=repair_format,
            repair_attempts=repair_attempts,
            settings=settings,
        )
        return Parsed(value=parsed.value, text=parsed.text, calls=[record, *parsed.calls])

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
        """Parse a reply already received for `messages`, sending repair requests when it fails.

        The returned calls are only the repair calls.
        """
        calls: list[CallRecord] = []
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
            try:
                response, record = await self.call(history, repair_tags, settings=settings)
            except BudgetExceeded:
                break
            calls.append(record)
            text = response.text
            value = parse(text)
        return Parsed(value=value, text=text, calls=calls)
