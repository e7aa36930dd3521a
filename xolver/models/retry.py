"""Bounded retries with exponential backoff and full jitter, for transient provider failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from xolver.errors import TransientModelError

__all__ = ["RetryPolicy", "with_retries"]

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    Attempt n (1-based) waits a random time in [0, min(max_delay, base_delay * 2**(n-1))]
    ("full jitter"), so many clients hitting one rate limit spread out instead of retrying in step.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, cap)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    on_retry: Callable[[int, TransientModelError, float], None] | None = None,
) -> T:
    """Await `call()`, retrying `TransientModelError` up to `policy.max_attempts` times in all."""
    attempt = 1
    while True:
        try:
            return await call()
        except TransientModelError as e:
            if attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt)
            if on_retry is not None:
                on_retry(attempt, e, wait)
            await asyncio.sleep(wait)
            attempt += 1
