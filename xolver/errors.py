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
    "ModelRequestsBlocked",
    "PermanentModelError",
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


class ModelError(XolverError):
    """The model provider failed to answer.

    Attributes:
        model: the model string the call was made with.
        status: HTTP status when the provider gave one.
    """

    def __init__(self, message: str, *, model: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.status = status


class TransientModelError(ModelError):
    """A failure worth retrying: rate limit, timeout, connection error, 5xx."""


class PermanentModelError(ModelError):
    """A failure that retrying will not fix: bad request, unknown model, context too long."""


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
