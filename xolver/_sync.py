"""Blocking calls into async code: `run_sync` for a coroutine, `iterate_sync` for an async iterator.

Both work inside a running event loop too (a notebook, an async app): the async side then runs on
a private loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["iterate_sync", "run_sync"]

T = TypeVar("T")

_DONE = object()


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion and return its result (on a private loop in a thread when this
    thread already runs a loop)."""
    if not _in_running_loop():
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as e:
            error.append(e)

    thread = threading.Thread(target=target, name="xolver-solve")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def iterate_sync(agen: AsyncIterator[T]) -> Generator[T, None, None]:
    """Drive `agen` on a private loop in a thread, handing its items over a queue.

    When the caller stops early (``break``, ``close()``, or the iterator is garbage collected), the
    pump is cancelled, so `agen` runs its cleanup and nothing keeps working for no one; the call
    returns once that cleanup is done.
    """
    items: queue.Queue[Any] = queue.Queue()
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []
    ready = threading.Event()

    async def pump() -> None:
        task = asyncio.current_task()
        assert task is not None
        running.append((asyncio.get_running_loop(), task))
        ready.set()
        try:
            async for item in agen:
                items.put(item)
        except asyncio.CancelledError:
            pass  # the caller stopped iterating
        except BaseException as e:
            items.put(e)
        finally:
            items.put(_DONE)

    def target() -> None:
        try:
            asyncio.run(pump())
        finally:
            ready.set()  # even if the loop never started the pump

    thread = threading.Thread(target=target, name="xolver-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if thread.is_alive():
            ready.wait()
            for loop, task in running:
                with contextlib.suppress(RuntimeError):  # the loop already closed: nothing to stop
                    loop.call_soon_threadsafe(task.cancel)
        thread.join()
