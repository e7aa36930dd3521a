"""The OpenAI-compatible HTTP endpoint (FastAPI): ``POST /v1/chat/completions``, ``GET /v1/models``.

A chat completion is one xolver solve of the last user message. Non-streaming responses carry the
team's answer as the message content and the solve's usage (every internal model call). Streams
carry progress as it happens (team, answers, scores, rounds) as ``delta.reasoning_content`` or as
SSE comments, then the answer.

Each request solves in its own task: requests run concurrently on the shared model, a client that
disconnects cancels its solve, and a solve that outlives the request timeout is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from xolver._version import __version__
from xolver.errors import ModelError, UserError, XolverError
from xolver.events import AgentToken, Event, SolveFinished
from xolver.server.guard import RequestGuard, error_body
from xolver.server.progress import describe_event
from xolver.server.schemas import ChatCompletionRequest, ProgressMode
from xolver.server.service import SolveOptions, SolveService
from xolver.solution import Solution

__all__ = ["ServerSettings", "create_app"]

log = logging.getLogger("xolver.server")

# Streams send a comment after this long without output, so proxies keep the connection open and
# a vanished client is noticed even while a long model call produces no events.
_KEEPALIVE_SECONDS = 15.0


@dataclass(frozen=True)
class ServerSettings:
    """Settings of the HTTP surface (the solve settings live in the service's `XolverConfig`).

    Attributes:
        api_key: bearer token every ``/v1`` request must carry; None: no authentication.
        max_body_bytes: the largest request body accepted (413 above it).
        request_timeout: seconds a request may take before its solve is cancelled (504).
        model_id: the model name clients send and ``/v1/models`` lists first.
    """

    api_key: str | None = None
    max_body_bytes: int = 1_000_000
    request_timeout: float = 600.0
    model_id: str = "xolver"


def create_app(service: SolveService, settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI application serving `service`.

    Args:
        service: the model, memory and config every request shares.
        settings: authentication, size limit and timeout.

    Example:
        >>> from xolver.models.testing import FunctionModel
        >>> from xolver.config import XolverConfig
        >>> service = SolveService(my_model, config=XolverConfig(), memory=None)
        >>> app = create_app(service, ServerSettings(api_key="secret"))
        >>> # uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    settings = settings or ServerSettings()
    backbone_id = f"{settings.model_id}/{service.model.name}"
    model_ids = [settings.model_id, backbone_id]
    app = FastAPI(title="xolver", version=__version__, docs_url=None, redoc_url=None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=_validation_error(exc))

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
            return _error(
                404,
                f"model {body.model!r} is not served here; use one of {model_ids}",
                type_="invalid_request_error",
                code="model_not_found",
                param="model",
            )
        options = SolveOptions(
            agents=body.agents,
            rounds=body.rounds,
            namespace=body.namespace,
            answer_format=body.answer_format,
            temperature=body.temperature,
            stream_tokens=body.stream and body.stream_tokens,
        )
        try:
            xolver = service.xolver(options)
        except UserError as e:
            return _error(422, str(e), type_="invalid_request_error")
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        namespace = xolver.config.namespace
        log.info(
            "%s start: namespace=%r agents=%d rounds=%d stream=%s problem_chars=%d",
            request_id,
            namespace,
            xolver.config.agents,
            xolver.config.total_rounds,
            body.stream,
            len(body.problem),
        )
        events = xolver.astream(body.problem)
        if body.stream:
            include_usage = body.stream_options is not None and body.stream_options.include_usage
            stream = _sse(events, request_id, body.model, body.progress, include_usage, settings.request_timeout)
            return StreamingResponse(
                stream,
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        return await _complete(events, request, request_id, body.model, body.progress, settings.request_timeout)

    # Outside routing: authentication and the size limit run before any body is parsed.
    app.add_middleware(RequestGuard, api_key=settings.api_key, max_body_bytes=settings.max_body_bytes)
    return app


# ----------------------------------------------------------------------------- non-streaming


async def _complete(
    events: AsyncIterator[Event],
    request: Request,
    request_id: str,
    model_id: str,
    progress: ProgressMode,
    timeout: float,
) -> JSONResponse:
    lines: list[str] = []

    async def run() -> Solution:
        solution: Solution | None = None
        async for event in events:
            if isinstance(event, SolveFinished):
                solution = event.solution
            if (line := describe_event(event)) is not None:
                lines.append(line)
        if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
            raise XolverError("the solve ended without a solution")
        return solution

    started = time.monotonic()
    solve = asyncio.ensure_future(run())
    disconnected = asyncio.ensure_future(_client_gone(request))
    try:
        done, _ = await asyncio.wait({solve, disconnected}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        disconnected.cancel()
    if solve not in done:
        solve.cancel()
        with contextlib.suppress(BaseException):
            await solve
        if disconnected in done:
            log.info("%s cancelled: the client disconnected", request_id)
            return _error(499, "client closed the request", type_="cancelled")
        log.warning("%s timed out after %.0f s", request_id, timeout)
        return _error(504, f"the solve did not finish within {timeout:g} seconds", type_="timeout", code="timeout")
    try:
        solution = solve.result()
    except UserError as e:
        return _error(400, str(e), type_="invalid_request_error")
    except ModelError as e:
        log.warning("%s failed: model error: %s", request_id, e)
        return _error(502, f"the backbone model failed: {e}", type_="model_error")
    _log_finished(request_id, solution, time.monotonic() - started)
    message: dict[str, Any] = {"role": "assistant", "content": _answer_text(solution)}
    if progress != "none":
        message["reasoning_content"] = "\n".join(lines)
    body = {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_id,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": _usage(solution),
        "xolver": _summary(solution),
    }
    return JSONResponse(body)


async def _client_gone(request: Request) -> None:
    """Return when the client closes the connection (the body has already been read)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


# ----------------------------------------------------------------------------- streaming


_END = object()


async def _sse(
    events: AsyncIterator[Event],
    request_id: str,
    model_id: str,
    progress: ProgressMode,
    include_usage: bool,
    timeout: float,
) -> AsyncIterator[str]:
    """The SSE body of a streamed completion.

    The solve runs in its own task feeding a queue. When the client disconnects, Starlette cancels
    this generator; the ``finally`` then cancels the solve, so no model call outlives its client.
    """
    created = int(time.time())
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in events:
                await queue.put(event)
        except Exception as e:  # delivered to the stream, which reports it; cancellation propagates
            await queue.put(e)
        finally:
            await queue.put(_END)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        data = {
            "id": request_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model_id,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(data)}\n\n"

    def show(text: str) -> str | None:
        if progress == "reasoning":
            return chunk({"reasoning_content": text})
        if progress == "comments":
            return "".join(f": {line}\n" for line in text.splitlines()) + "\n"
        return None

    started = time.monotonic()
    deadline = started + timeout
    task = asyncio.ensure_future(pump())
    solution: Solution | None = None
    try:
        yield chunk({"role": "assistant", "content": ""})
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("%s timed out after %.0f s", request_id, timeout)
                yield _sse_error(f"the solve did not finish within {timeout:g} seconds", "timeout")
                return
            try:
                item = await asyncio.wait_for(queue.get(), timeout=min(remaining, _KEEPALIVE_SECONDS))
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if item is _END:
                break
            if isinstance(item, UserError):
                yield _sse_error(str(item), "invalid_request_error")
                return
            if isinstance(item, ModelError):
                log.warning("%s failed: model error: %s", request_id, item)
                yield _sse_error(f"the backbone model failed: {item}", "model_error")
                return
            if isinstance(item, BaseException):
                log.error("%s failed: %r", request_id, item)
                yield _sse_error("internal error during the solve", "server_error")
                return
            if isinstance(item, SolveFinished):
                solution = item.solution
            if isinstance(item, AgentToken):
                text = item.text
            else:
                line = describe_event(item)
                if line is None:
                    continue
                text = line + "\n"
            out = show(text)
            if out is not None:
                yield out
        if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
            yield _sse_error("the solve ended without a solution", "server_error")
            return
        _log_finished(request_id, solution, time.monotonic() - started)
        yield chunk({"content": _answer_text(solution)})
        yield chunk({}, finish="stop")
        if include_usage:
            data = {
                "id": request_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model_id,
                "choices": [],
                "usage": _usage(solution),
                "xolver": _summary(solution),
            }
            yield f"data: {json.dumps(data)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        if not task.done():
            log.info("%s cancelled: the stream ended before the solve", request_id)
            task.cancel()
            # Starlette cancels this generator through an anyio cancel scope, which would cancel
            # this wait too; shield it so the solve's cancellation runs to its end.
            with anyio.CancelScope(shield=True), contextlib.suppress(BaseException):
                await task


def _sse_error(message: str, type_: str) -> str:
    # The official clients raise an APIError when a stream event carries an "error" object.
    return f"data: {json.dumps(error_body(message, type_=type_))}\n\ndata: [DONE]\n\n"


# ----------------------------------------------------------------------------- shared


def _answer_text(solution: Solution) -> str:
    if solution.answer:
        return solution.answer
    if solution.best is not None and solution.best.response:
        return solution.best.response
    return "(no answer)"


def _usage(solution: Solution) -> dict[str, int]:
    totals = solution.usage.totals
    return {
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "total_tokens": totals.total_tokens,
    }


def _summary(solution: Solution) -> dict[str, Any]:
    totals = solution.usage.totals
    return {
        "calls": totals.calls,
        "cost": totals.cost,
        "stop_reason": solution.stop_reason,
        "answer_source": solution.answer_source,
        "rounds": len(solution.rounds),
        "roles": [r.name for r in solution.roles],
        "best_score": solution.best.score if solution.best is not None else None,
        "checked": solution.checked,
        "check": solution.check,
        "check_kind": solution.check_kind,
    }


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


def _error(status: int, message: str, *, type_: str, code: str | None = None, param: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=error_body(message, type_=type_, code=code, param=param))


def _validation_error(exc: RequestValidationError) -> dict[str, Any]:
    """One readable message from pydantic's errors, e.g. ``messages.0.role: Input should be ...``."""
    parts = []
    first_param: str | None = None
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        where = ".".join(loc)
        first_param = first_param or where or None
        msg = str(err.get("msg", "invalid"))
        parts.append(f"{where}: {msg}" if where else msg)
    message = "invalid request body: " + "; ".join(parts)
    return error_body(message, type_="invalid_request_error", code="invalid_body", param=first_param)
