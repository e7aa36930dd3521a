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

from xolver.errors import (
    ModelError,
    PermanentFailure,
    PermanentModelError,
    TransientFailure,
    TransientModelError,
    UserError,
)
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


# PermanentModelError.kind -> (status, OpenAI error type, error code, what the message starts with).
# The request is at fault (4xx) unless the server's own backbone set-up is: a refused key is the
# operator's to fix, not the client's (a 401 would tell the client its own key is wrong).
_PERMANENT: dict[PermanentFailure, tuple[int, str, str, str]] = {
    "bad_request": (400, "invalid_request_error", "backbone_rejected", "the backbone model refused the request"),
    "context_window": (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "the problem does not fit the backbone model's context window",
    ),
    "not_found": (400, "invalid_request_error", "model_not_found", "the backbone model was not found"),
    "content_policy": (
        400,
        "invalid_request_error",
        "content_policy_violation",
        "the backbone's provider refused the request (content policy)",
    ),
    "budget": (400, "invalid_request_error", "budget_exhausted", "the backbone's spending budget is exhausted"),
    "auth": (502, "server_error", "backbone_auth_failed", "the backbone's provider refused this server's credentials"),
    "unavailable": (503, "server_error", "backbone_unavailable", "the backbone model is not available"),
}
# TransientModelError.kind -> (status, OpenAI error type, error code, seconds to wait, message start).
_TRANSIENT: dict[TransientFailure, tuple[int, str, str, int, str]] = {
    "rate_limit": (
        429,
        "rate_limit_error",
        "rate_limit_exceeded",
        _RATE_LIMIT_WAIT,
        "the backbone model is rate limited",
    ),
    "timeout": (503, "server_error", "backbone_unavailable", _UNAVAILABLE_WAIT, "the backbone model is unavailable"),
    "connection": (503, "server_error", "backbone_unavailable", _UNAVAILABLE_WAIT, "the backbone model is unavailable"),
    "server_error": (
        503,
        "server_error",
        "backbone_unavailable",
        _UNAVAILABLE_WAIT,
        "the backbone model is unavailable",
    ),
}


def reply_for(exc: BaseException) -> ErrorReply:
    """The response for a failed solve (or a refused option): a provider failure by its `ModelError.kind`."""
    text = str(exc)
    if isinstance(exc, UserError):
        return ErrorReply(400, text, "invalid_request_error")
    if isinstance(exc, PermanentModelError):
        status, type_, code, said = _PERMANENT[exc.kind]
        return ErrorReply(status, f"{said}: {text}", type_, code)
    if isinstance(exc, TransientModelError):
        status, type_, code, wait, said = _TRANSIENT[exc.kind]
        return ErrorReply(status, f"{said}: {text}", type_, code, retry_after=wait)
    if isinstance(exc, ModelError):
        return ErrorReply(
            502, f"the backbone model failed: {text}", "server_error", "backbone_error", retry_after=_UNAVAILABLE_WAIT
        )
    return ErrorReply(500, "internal error during the solve", "server_error", "internal_error")
