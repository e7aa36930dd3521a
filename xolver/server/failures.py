"""What the endpoint answers when a request fails: status, OpenAI's error body, and retry headers.

One rule sorts every failure by who must act: the caller (a permanent failure: 4xx, the same
request will fail again) or nobody (a transient one: 429/5xx with ``Retry-After``). Every error
response carries ``x-should-retry: false``: the official OpenAI clients obey that header before
their own rules (they retry 408, 409, 429 and 5xx twice by default), and a failed request here has
already run a whole team solve, with its model calls retried by xolver itself, so an automatic
re-run would pay for the solve again. ``Retry-After`` tells an application when trying again makes
sense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from xolver.errors import ModelError, PermanentModelError, TransientModelError, UserError
from xolver.server.guard import error_body

__all__ = ["ErrorReply", "reply_for"]

# Seconds a client should wait before sending the request again, when nobody has to change anything.
_RATE_LIMIT_WAIT = 30
_UNAVAILABLE_WAIT = 10


@dataclass(frozen=True)
class ErrorReply:
    """One error response.

    Attributes:
        status: the HTTP status.
        message: what went wrong, for a person.
        type: OpenAI's ``error.type`` (``invalid_request_error``, ``rate_limit_error``, ``server_error``, ...).
        code: OpenAI's ``error.code`` (``context_length_exceeded``, ``model_not_found``, ...).
        param: the request field at fault.
        retry_after: seconds after which the same request may succeed; None: it will not.
    """

    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    retry_after: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        headers = {"x-should-retry": "false"}
        if self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
        return headers

    def body(self) -> dict[str, Any]:
        return error_body(self.message, type_=self.type, code=self.code, param=self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(status_code=self.status, content=self.body(), headers=self.headers)


def reply_for(exc: BaseException) -> ErrorReply:
    """The response for a failed solve (or a refused option)."""
    text = str(exc)
    if isinstance(exc, UserError):
        return ErrorReply(400, text, "invalid_request_error")
    if isinstance(exc, PermanentModelError):
        lowered = text.lower()
        code = "backbone_rejected"
        if "context window" in lowered or "context length" in lowered or "too long" in lowered:
            code = "context_length_exceeded"
        elif "model not found" in lowered:
            code = "model_not_found"
        return ErrorReply(400, f"the backbone model refused the request: {text}", "invalid_request_error", code)
    if isinstance(exc, TransientModelError):
        if exc.status == 429 or "ratelimit" in text.lower().replace(" ", "") or "http 429" in text.lower():
            return ErrorReply(
                429,
                f"the backbone model is rate limited: {text}",
                "rate_limit_error",
                "rate_limit_exceeded",
                retry_after=_RATE_LIMIT_WAIT,
            )
        return ErrorReply(
            503,
            f"the backbone model is unavailable: {text}",
            "server_error",
            "backbone_unavailable",
            retry_after=_UNAVAILABLE_WAIT,
        )
    if isinstance(exc, ModelError):
        return ErrorReply(
            502, f"the backbone model failed: {text}", "server_error", "backbone_error", retry_after=_UNAVAILABLE_WAIT
        )
    return ErrorReply(500, "internal error during the solve", "server_error", "internal_error")
