"""The OpenAI-compatible HTTP endpoint (FastAPI): ``POST /v1/chat/completions``, ``GET /v1/models``.

A chat completion is one xolver solve per choice (``n`` independent solves) of the conversation,
composed into one problem by the rule the chat uses (`xolver.conversation.compose_problem`).
Non-streaming responses carry the team's answer as the message content (as JSON validated against
the client's ``response_format`` when it sends one) and the usage of every internal model call.
Streams carry progress as it happens (team, answers, scores, rounds) as ``delta.reasoning_content``
or as SSE comments, then the answer. Bodies are built from the ``openai`` package's own types.

Each request solves in its own task: requests run concurrently on the shared model, a client that
disconnects cancels its solve, and a solve that outlives the request timeout is cancelled. Errors
follow `xolver.server.failures`: permanent ones are 4xx, transient ones 429/5xx with
``Retry-After``, and none invites the official clients to re-run a solve on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from openai.types.completion_usage import CompletionUsage
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from xolver._version import __version__
from xolver.api import Xolver
from xolver.errors import XolverError
from xolver.events import AgentToken, SolveFinished
from xolver.models.base import Model, Usage
from xolver.server.failures import ErrorReply, reply_for
from xolver.server.guard import RequestGuard
from xolver.server.progress import describe_event
from xolver.server.schemas import ChatCompletionRequest, ProgressMode, ResponseFormat, unsupported
from xolver.server.service import SolveOptions, SolveService
from xolver.server.shape import check_format, shape_answer
from xolver.solution import Solution

__all__ = ["ServerSettings", "create_app"]

log = logging.getLogger("xolver.server")

# Streams send a comment after this long without output, so proxies keep the connection open and
# a vanished client is noticed even while a long model call produces no events.
_KEEPALIVE_SECONDS = 15.0
# Headers a browser app may read on a cross-origin response.
_EXPOSED_HEADERS = ["x-should-retry", "retry-after", "x-request-id"]


@dataclass(frozen=True)
class ServerSettings:
    """Settings of the HTTP surface (the solve settings live in the service's `XolverConfig`).

    Attributes:
        api_key: bearer token every ``/v1`` request must carry; None: no authentication.
        max_body_bytes: the largest request body accepted (413 above it).
        request_timeout: seconds a request may take before its solve is cancelled (504).
        model_id: the model name clients send and ``/v1/models`` lists first.
        max_choices: the largest ``n`` (independent team solves) a request may ask for.
        cors_origins: origins browser apps may call from (``"*"``: any); empty: no CORS headers.
    """

    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    request_timeout: float = 600.0
    model_id: str = "xolver"
    max_choices: int = 4
    cors_origins: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class _Answered:
    """One choice: its solve, the content sent, and what shaping the content cost on top of the solve."""

    solution: Solution
    content: str
    extra_calls: int = 0
    extra_usage: Usage = field(default_factory=Usage)
    extra_cost: float = 0.0


class _BudgetSpent(XolverError):
    """A solve's budget ran out before any agent answered."""


def create_app(service: SolveService, settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI application serving `service`.

    Args:
        service: the model, memory and config every request shares.
        settings: authentication, size limit, timeout, ``n`` limit and CORS origins.

    Example:
        >>> from xolver.models.testing import FunctionModel
        >>> from xolver.config import XolverConfig
        >>> service = SolveService(my_model, config=XolverConfig(), memory=None)
        >>> app = create_app(service, ServerSettings(api_key="secret", cors_origins=["https://app.example"]))
        >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    settings = settings or ServerSettings()
    backbone_id = f"{settings.model_id}/{service.model.name}"
    model_ids = [settings.model_id, backbone_id]
    app = FastAPI(title="xolver", version=__version__, docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no route {request.url.path!r} here; this server serves /v1/chat/completions and /v1/models"
            return ErrorReply(404, message, "invalid_request_error", "not_found").response()
        return ErrorReply(exc.status_code, str(exc.detail), "invalid_request_error").response()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": mid, "object": "model", "created": 0, "owned_by": "xolver"} for mid in model_ids],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> JSONResponse | StreamingResponse:
        if body.model not in model_ids:
            message = f"model {body.model!r} is not served here; use one of {model_ids}"
            return ErrorReply(404, message, "invalid_request_error", "model_not_found", "model").response()
        refused = unsupported(body, service.model) or check_format(body.response_format)
        if refused is not None:
            return refused.response()
        if body.n > settings.max_choices:
            message = f"n must be at most {settings.max_choices} on this server (each choice is a team solve)"
            return ErrorReply(400, message, "invalid_request_error", "invalid_value", "n").response()
        options = SolveOptions(
            agents=body.agents,
            rounds=body.rounds,
            namespace=body.namespace,
            answer_format=body.answer_format,
            temperature=body.temperature,
            stream_tokens=body.stream and body.stream_tokens,
            images=body.images,
        )
        try:
            xolvers = [service.xolver(options) for _ in range(body.n)]
        except XolverError as e:
            return reply_for(e).response()
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        problem = body.problem
        config = xolvers[0].config
        log.info(
            "%s start: namespace=%r agents=%d rounds=%d n=%d stream=%s problem_chars=%d",
            request_id,
            config.namespace,
            config.agents,
            config.total_rounds,
            body.n,
            body.stream,
            len(problem),
        )
        fmt = body.response_format if body.response_format is not None and body.response_format.type != "text" else None
        job = _Job(request_id, body.model, problem, fmt, service.model, body.progress, settings.request_timeout)
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            return StreamingResponse(
                job.sse(xolvers, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "x-request-id": request_id},
            )
        return await job.complete(xolvers, request)

    # Outside routing: authentication and the size limit run before any body is parsed. CORS sits
    # outside them, so a browser's preflight is answered without a key and errors carry its headers.
    app.add_middleware(RequestGuard, api_key=settings.api_key, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=_EXPOSED_HEADERS,
            max_age=600,
        )
    return app


@dataclass(frozen=True)
class _Job:
    """One chat completion request: its n solves, and how their results are written."""

    request_id: str
    model_id: str
    problem: str
    fmt: ResponseFormat | None
    backbone: Model
    progress: ProgressMode
    timeout: float

    async def answer(self, solution: Solution) -> _Answered:
        """The choice's content: the answer, shaped to the response format when one was asked for."""
        if not solution.answer and solution.stop_reason.startswith("budget_"):
            raise _BudgetSpent(
                f"the solve's {solution.stop_reason.removeprefix('budget_')} budget was spent before any agent answered"
            )
        if self.fmt is None:
            return _Answered(solution, _answer_text(solution))
        shaped = await shape_answer(self.backbone, self.fmt, problem=self.problem, solution=solution)
        return _Answered(solution, shaped.text, shaped.calls, shaped.usage, shaped.cost)

    # ------------------------------------------------------------------------- non-streaming

    async def complete(self, xolvers: list[Xolver], request: Request) -> JSONResponse:
        lines: list[list[str]] = [[] for _ in xolvers]

        async def one(index: int, xolver: Xolver) -> _Answered:
            solution: Solution | None = None
            async for event in xolver.astream(self.problem):
                if isinstance(event, SolveFinished):
                    solution = event.solution
                if (line := describe_event(event)) is not None:
                    lines[index].append(line)
            if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
                raise XolverError("the solve ended without a solution")
            return await self.answer(solution)

        async def run() -> list[_Answered]:
            return list(await asyncio.gather(*(one(i, x) for i, x in enumerate(xolvers))))

        started = time.monotonic()
        solve = asyncio.ensure_future(run())
        disconnected = asyncio.ensure_future(_client_gone(request))
        try:
            done, _ = await asyncio.wait(
                {solve, disconnected}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            disconnected.cancel()
        if solve not in done:
            solve.cancel()
            with contextlib.suppress(BaseException):
                await solve
            if disconnected in done:
                log.info("%s cancelled: the client disconnected", self.request_id)
                return ErrorReply(499, "client closed the request", "cancelled").response()
            log.warning("%s timed out after %.0f s", self.request_id, self.timeout)
            message = f"the solve did not finish within {self.timeout:g} seconds"
            return ErrorReply(504, message, "timeout", "timeout").response()
        try:
            answered = solve.result()
        except Exception as e:
            return self.failed(e).response()
        for a in answered:
            _log_finished(self.request_id, a.solution, time.monotonic() - started)
        choices = []
        for index, a in enumerate(answered):
            extra = {"reasoning_content": "\n".join(lines[index])} if self.progress != "none" else {}
            said = ChatCompletionMessage(role="assistant", content=a.content, refusal=None, **extra)
            choices.append(Choice(index=index, message=said, finish_reason="stop", logprobs=None))
        completion = ChatCompletion(
            id=self.request_id,
            object="chat.completion",
            created=int(time.time()),
            model=self.model_id,
            choices=choices,
            usage=_usage(answered),
            xolver=_summary(answered),
        )
        return JSONResponse(
            completion.model_dump(mode="json", exclude_unset=True), headers={"x-request-id": self.request_id}
        )

    def failed(self, exc: BaseException) -> ErrorReply:
        if isinstance(exc, _BudgetSpent):
            reply = ErrorReply(400, str(exc), "invalid_request_error", "budget_exhausted")
        else:
            reply = reply_for(exc)
        if reply.status >= 500:
            log.warning("%s failed: %s: %s", self.request_id, type(exc).__name__, exc)
        return reply

    # ------------------------------------------------------------------------- streaming

    async def sse(self, xolvers: list[Xolver], include_usage: bool) -> AsyncIterator[str]:
        """The SSE body of a streamed completion (choices interleaved, each with its own index).

        Each solve runs in its own task feeding one queue. When the client disconnects, Starlette
        cancels this generator; the ``finally`` then cancels the solves, so no model call outlives
        its client.
        """
        created = int(time.time())
        queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        done = object()

        async def pump(index: int, xolver: Xolver) -> None:
            try:
                async for event in xolver.astream(self.problem):
                    if isinstance(event, SolveFinished):
                        await queue.put((index, await self.answer(event.solution)))
                    else:
                        await queue.put((index, event))
            except Exception as e:  # delivered to the stream, which reports it; cancellation propagates
                await queue.put((index, e))
            finally:
                await queue.put((index, done))

        def chunk(index: int, delta: ChoiceDelta, finish: Any = None) -> str:
            data = ChatCompletionChunk(
                id=self.request_id,
                object="chat.completion.chunk",
                created=created,
                model=self.model_id,
                choices=[ChunkChoice(index=index, delta=delta, finish_reason=finish)],
                **({"usage": None} if include_usage else {}),
            )
            return f"data: {json.dumps(data.model_dump(mode='json', exclude_unset=True))}\n\n"

        def show(index: int, text: str) -> str | None:
            if self.progress == "reasoning":
                return chunk(index, ChoiceDelta(reasoning_content=text))
            if self.progress == "comments":
                return "".join(f": {line}\n" for line in text.splitlines()) + "\n"
            return None

        started = time.monotonic()
        deadline = started + self.timeout
        tasks = [asyncio.ensure_future(pump(i, x)) for i, x in enumerate(xolvers)]
        answered: dict[int, _Answered] = {}
        running = len(tasks)
        try:
            for index in range(len(xolvers)):
                yield chunk(index, ChoiceDelta(role="assistant", content=""))
            while running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.warning("%s timed out after %.0f s", self.request_id, self.timeout)
                    yield _sse_error(
                        ErrorReply(
                            504, f"the solve did not finish within {self.timeout:g} seconds", "timeout", "timeout"
                        )
                    )
                    return
                try:
                    index, item = await asyncio.wait_for(queue.get(), timeout=min(remaining, _KEEPALIVE_SECONDS))
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is done:
                    running -= 1
                    continue
                if isinstance(item, BaseException):
                    yield _sse_error(self.failed(item))
                    return
                if isinstance(item, _Answered):
                    answered[index] = item
                    _log_finished(self.request_id, item.solution, time.monotonic() - started)
                    line = describe_event(SolveFinished(solution=item.solution))
                    if line is not None and (out := show(index, line + "\n")) is not None:
                        yield out
                    yield chunk(index, ChoiceDelta(content=item.content))
                    yield chunk(index, ChoiceDelta(), finish="stop")
                    continue
                if isinstance(item, AgentToken):
                    text = item.text
                else:
                    described = describe_event(item)
                    if described is None:
                        continue
                    text = described + "\n"
                if (out := show(index, text)) is not None:
                    yield out
            if len(answered) < len(xolvers):  # pragma: no cover - astream always ends with SolveFinished or raises
                yield _sse_error(ErrorReply(500, "the solve ended without a solution", "server_error"))
                return
            if include_usage:
                ordered = [answered[i] for i in range(len(xolvers))]
                data = ChatCompletionChunk(
                    id=self.request_id,
                    object="chat.completion.chunk",
                    created=created,
                    model=self.model_id,
                    choices=[],
                    usage=_usage(ordered),
                    xolver=_summary(ordered),
                )
                yield f"data: {json.dumps(data.model_dump(mode='json', exclude_unset=True))}\n\n"
            yield "data: [DONE]\n\n"
        finally:
            pending = [t for t in tasks if not t.done()]
            if pending:
                log.info("%s cancelled: the stream ended before the solve", self.request_id)
                for task in pending:
                    task.cancel()
                # Starlette cancels this generator through an anyio cancel scope, which would cancel
                # this wait too; shield it so the solves' cancellation runs to its end.
                with anyio.CancelScope(shield=True), contextlib.suppress(BaseException):
                    await asyncio.gather(*pending, return_exceptions=True)


async def _client_gone(request: Request) -> None:
    """Return when the client closes the connection (the body has already been read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


def _sse_error(reply: ErrorReply) -> str:
    # The official clients raise an APIError when a stream event carries an "error" object.
    return f"data: {json.dumps(reply.body())}\n\ndata: [DONE]\n\n"


# ----------------------------------------------------------------------------- shared


def _answer_text(solution: Solution) -> str:
    if solution.answer:
        return solution.answer
    if solution.best is not None and solution.best.response:
        return solution.best.response
    return "(no answer)"


def _usage(answered: Sequence[_Answered]) -> CompletionUsage:
    prompt = sum(a.solution.usage.totals.prompt_tokens + a.extra_usage.prompt_tokens for a in answered)
    completion = sum(a.solution.usage.totals.completion_tokens + a.extra_usage.completion_tokens for a in answered)
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _choice_summary(a: _Answered) -> dict[str, Any]:
    solution, totals = a.solution, a.solution.usage.totals
    return {
        "calls": totals.calls + a.extra_calls,
        "cost": totals.cost + a.extra_cost,
        "stop_reason": solution.stop_reason,
        "answer": solution.answer,
        "answer_source": solution.answer_source,
        "rounds": len(solution.rounds),
        "roles": [r.name for r in solution.roles],
        "best_score": solution.best.score if solution.best is not None else None,
        "checked": solution.checked,
        "check": solution.check,
        "check_kind": solution.check_kind,
    }


def _summary(answered: Sequence[_Answered]) -> dict[str, Any]:
    """The ``xolver`` field: the solve's summary; with n > 1, totals and one summary per choice."""
    if len(answered) == 1:
        return _choice_summary(answered[0])
    choices = [_choice_summary(a) for a in answered]
    return {"calls": sum(c["calls"] for c in choices), "cost": sum(c["cost"] for c in choices), "choices": choices}


def _log_finished(request_id: str, solution: Solution, seconds: float) -> None:
    totals = solution.usage.totals
    log.info(
        "%s done: stop=%s calls=%d tokens=%d seconds=%.1f",
        request_id,
        solution.stop_reason,
        totals.calls,
        totals.total_tokens,
        seconds,
    )


def _validation_error(exc: RequestValidationError) -> ErrorReply:
    """A 400 with one readable message from pydantic's errors, e.g. ``messages.0.role: Input should be ...``."""
    parts = []
    first_param: str | None = None
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc)
        first_param = first_param or where or None
        msg = str(err.get("msg", "invalid"))
        parts.append(f"{where}: {msg}" if where else msg)
    message = "invalid request body: " + "; ".join(parts)
    return ErrorReply(400, message, "invalid_request_error", "invalid_body", first_param)
