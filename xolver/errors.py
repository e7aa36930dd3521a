"""The exceptions xolver raises, sorted by who has to act on them.

Everything derives from `XolverError`. `UserError` means the caller must change something (an
argument, a file, a key); `ModelError` means the model provider failed; `BudgetExceeded` is raised
internally when a solve's budget is spent and turned into a clean stop, never shown to users.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "BudgetExceeded",
    "BudgetKind",
    "ConfigError",
    "LocalModelMissing",
    "ModelError",
    "ModelFailureKind",
    "ModelRequestsBlocked",
    "PermanentFailure",
    "PermanentModelError",
    "TransientFailure",
    "TransientModelError",
    "UserError",
    "XolverError",
]


class XolverError(Exception):
    """Root of every error xolver raises on purpose."""


class UserError(XolverError):
    """The caller must change something: an argument, a file, a setting, a credential."""


class ConfigError(UserError):
    """A configuration value, file or environment variable is invalid."""


class LocalModelMissing(UserError):
    """The embedded local model is not installed (llama-cpp-python or the SmolLM2 weights).

    Attributes:
        hint: what to run instead, one command per line (the CLI prints it under the error).
    """

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ModelRequestsBlocked(UserError):
    """A real model request was attempted while requests are switched off (tests)."""


PermanentFailure = Literal[
    "bad_request", "context_window", "auth", "not_found", "content_policy", "budget", "unavailable"
]
"""Why a provider refused for good, as the provider's exception said (never read from message text):

``bad_request`` (the request itself was rejected), ``context_window`` (the prompt does not fit),
``auth`` (the provider refused the key or its access), ``not_found`` (no such model, or a model
string no provider serves), ``content_policy`` (the provider's content filter), ``budget`` (the
provider's spending limit is reached), ``unavailable`` (the backend is gone, e.g. a closed model).
"""

TransientFailure = Literal["rate_limit", "timeout", "connection", "server_error"]
"""Why a provider failed for now: rate limited, timed out, unreachable, or a 5xx / an unusable reply."""

ModelFailureKind = PermanentFailure | TransientFailure


class ModelError(XolverError):
    """The model provider failed to answer.

    Attributes:
        model: the model string the call was made with.
        status: HTTP status when the provider gave one.
        kind: what failed, as the provider's exception said (see the subclasses).
    """

    kind: ModelFailureKind = "server_error"

    def __init__(self, message: str, *, model: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status = status


class TransientModelError(ModelError):
    """A failure worth retrying: rate limit, timeout, connection error, 5xx.

    Attributes:
        kind: which one; by default ``rate_limit`` for HTTP 429, else ``server_error``.
    """

    kind: TransientFailure

    def __init__(
        self, message: str, *, model: str = "", status: int | None = None, kind: TransientFailure | None = None
    ) -> None:
        super().__init__(message, model=model, status=status)
        self.kind = kind if kind is not None else ("rate_limit" if status == 429 else "server_error")


class PermanentModelError(ModelError):
    """A failure that retrying will not fix: bad request, unknown model, context too long.

    Attributes:
        kind: which one (`PermanentFailure`); by default read from the HTTP status (401/403
            ``auth``, 404 ``not_found``, 402 ``budget``), else ``bad_request``.
    """

    kind: PermanentFailure

    def __init__(
        self, message: str, *, model: str = "", status: int | None = None, kind: PermanentFailure | None = None
    ) -> None:
        super().__init__(message, model=model, status=status)
        self.kind = kind if kind is not None else _permanent_kind_of_status(status)


def _permanent_kind_of_status(status: int | None) -> PermanentFailure:
    match status:
        case 401 | 403:
            return "auth"
        case 402:
            return "budget"
        case 404:
            return "not_found"
        case _:
            return "bad_request"


BudgetKind = Literal["calls", "tokens", "seconds", "cost"]
"""The budgets of a solve: model calls, prompt + completion tokens, wall seconds."""


class BudgetExceeded(XolverError):
    """A solve's budget (calls, tokens or seconds) is spent.

    Attributes:
        kind: which budget ran out.
    """

    def __init__(self, kind: BudgetKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
