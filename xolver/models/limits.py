"""How many requests a model may have in flight, and the default for servers that serve one at a time.

llama.cpp's server, Ollama and LM Studio answer one request at a time by default. xolver's agents run
in parallel, so without a limit their requests queue inside the server, and the per-attempt timeout
(which the client starts when it sends the request) counts the time spent in that queue: calls time
out although the server is healthy. `ConcurrencyLimit` keeps the queue on our side instead, where
waiting costs no timeout.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections import deque
from urllib.parse import urlsplit

__all__ = ["LOCAL_SERVER_PROVIDERS", "ConcurrencyLimit", "default_max_concurrency", "is_loopback_url"]

LOCAL_SERVER_PROVIDERS = ("ollama", "ollama_chat", "lm_studio")
"""litellm provider prefixes of servers that run on the user's machine."""


def is_loopback_url(url: str | None) -> bool:
    """Whether `url` points at this machine: localhost, 127.0.0.0/8, ::1 (or 0.0.0.0)."""
    if not url:
        return False
    text = url.strip()
    try:
        host = urlsplit(text if "://" in text else f"http://{text}").hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def default_max_concurrency(model: str, api_base: str | None) -> int | None:
    """1 for a server on this machine (loopback `api_base`, or an Ollama / LM Studio model), else None (no limit)."""
    provider = model.split("/", 1)[0].strip().lower() if "/" in model else ""
    if provider in LOCAL_SERVER_PROVIDERS or is_loopback_url(api_base):
        return 1
    return None


class ConcurrencyLimit:
    """A FIFO semaphore that works across event loops and threads.

    `asyncio.Semaphore` binds to the first event loop that waits on it, and a model outlives loops
    (every `Xolver.solve` runs its own ``asyncio.run``; the server and a sync caller may share one
    model from different threads). This limit keeps its count under a thread lock and wakes each
    waiter on its own loop.

    Args:
        limit: requests in flight at most; None (or 0) for no limit.
    """

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self._limit = limit or None
        self._lock = threading.Lock()
        self._in_use = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def limit(self) -> int | None:
        return self._limit

    @property
    def in_use(self) -> int:
        """Slots held right now."""
        return self._in_use

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return len(self._waiters)

    async def acquire(self) -> None:
        """Wait for a slot (first come, first served)."""
        if self._limit is None:
            return
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._in_use < self._limit and not self._waiters:
                self._in_use += 1
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, waiter))
                    granted = False
                except ValueError:
                    granted = True  # the slot was handed over as we were cancelled: pass it on
            if granted:
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back; the longest waiter gets it."""
        if self._limit is None:
            return
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(_grant, waiter)
                except RuntimeError:  # that loop is closed: its waiter is gone
                    continue
                return  # the slot passes to the waiter; the count stays
            self._in_use -= 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


def _grant(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
