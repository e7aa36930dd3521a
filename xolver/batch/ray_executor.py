"""Run one function per item as Ray tasks: a bounded number in flight, retries, each result once.

`map_on_ray` is what ``xolver batch --ray`` and ``xolver eval --ray`` run on. The function and the
shared value (the team's config, a caller's model) are shipped to the workers, which build their
model client and store there, once per worker process (`worker_cached`); nothing but the item and
its result crosses the wire per task.

What it guarantees:

- At most ``max_in_flight`` tasks run at once (sizing: docs/scale.md).
- A task whose worker dies (killed, out of memory, node lost) is run again by Ray, up to
  ``max_retries`` times; an exception *inside* the function is not retried (the functions return
  their own errors as data).
- Each item's result is handed to ``on_done`` exactly once, in the driver, whatever Ray retried;
  an item whose retries ran out goes to ``on_failed`` once.

Ray is imported only when `map_on_ray` runs (``pip install "xolver[ray]"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import pickle
import threading
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from xolver.errors import UserError

__all__ = ["RayOptions", "map_on_ray", "require_ray", "run_in_worker_loop", "team_token", "worker_cached"]

T = TypeVar("T")

RAY_MISSING = "--ray needs Ray, which is not installed: pip install 'xolver[ray]'"


@dataclass(frozen=True)
class RayOptions:
    """Where and how the tasks run.

    Attributes:
        address: the cluster (``ray://HEAD:10001``, ``HOST:6379`` or ``auto``); None: the cluster
            ``RAY_ADDRESS`` names, else a local Ray on this machine, started and stopped here.
        max_in_flight: tasks submitted and not finished at any time.
        max_retries: how many times Ray runs a task again when its worker dies.
        cpus_per_task: the CPU share each task reserves. Solves wait on the model almost all the
            time, so the default lets four tasks share a core; raise it for CPU-heavy work.
        runtime_env: Ray's runtime environment for the workers (``env_vars``, ``pip``, ...).
    """

    address: str | None = None
    max_in_flight: int = 8
    max_retries: int = 3
    cpus_per_task: float = 0.25
    runtime_env: dict[str, Any] | None = field(default=None, hash=False)


def require_ray() -> Any:
    """The ``ray`` module.

    Raises:
        UserError: Ray is not installed (one line: the install command).
    """
    try:
        import ray
    except ImportError:
        raise UserError(RAY_MISSING) from None
    return ray


async def map_on_ray(
    function: Callable[[Any, Any], T],
    shared: Any,
    items: Sequence[tuple[int, Any]],
    options: RayOptions,
    *,
    on_done: Callable[[int, T], None],
    on_failed: Callable[[int, BaseException], None],
) -> None:
    """Run ``function(shared, item)`` for every ``(key, item)`` as a Ray task.

    Args:
        function: a module-level function (the workers import it by name).
        shared: sent to the object store once and handed to every task.
        items: (key, item) pairs; the key identifies the item in the callbacks.
        options: cluster and limits.
        on_done: called in the driver, once per key, with the function's result.
        on_failed: called once per key whose task failed for good (retries spent, or a crash).

    Raises:
        UserError: Ray is not installed, or the cluster cannot be reached.
        Whatever `on_done` or `on_failed` raise: the tasks still in flight are cancelled first.
    """
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(
                address=options.address,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=options.runtime_env,
            )
        except Exception as e:  # Ray raises bare Exception when its node times out while starting
            where = options.address or "this machine"
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"cannot start or reach Ray on {where!r}: {reason}") from e
    pending: dict[asyncio.Future[Any], tuple[int, Any]] = {}
    try:
        remote = ray.remote(max_retries=options.max_retries, retry_exceptions=False, num_cpus=options.cpus_per_task)(
            function
        )
        shared_ref = ray.put(shared)
        queue = iter(items)
        finished: set[int] = set()

        def submit() -> None:
            while len(pending) < max(1, options.max_in_flight):
                nxt = next(queue, None)
                if nxt is None:
                    return
                key, item = nxt
                ref = remote.remote(shared_ref, item)
                pending[asyncio.wrap_future(ref.future())] = (key, ref)

        submit()
        while pending:
            done, _ = await asyncio.wait(list(pending), return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                key, _ref = pending.pop(future)
                if key in finished:  # never twice, whatever the cluster did
                    continue
                finished.add(key)
                error = future.exception()
                if error is not None:
                    on_failed(key, error)
                else:
                    on_done(key, future.result())
            submit()
    finally:
        for future, (_key, ref) in pending.items():
            future.cancel()
            # Already finished, or its worker is gone: nothing left to stop.
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


# ---------------------------------------------------------------------- inside a worker

_CACHE: dict[str, tuple[Any, Callable[[Any], None]]] = {}
_CACHE_LOCK = threading.Lock()
_LOOP: asyncio.AbstractEventLoop | None = None


def team_token(*parts: Any) -> str:
    """The key under which workers keep what they build from `parts` (a team's config, ...).

    Equal parts give the same key, so a worker keeps its team from one batch to the next with the same
    settings (the second batch starts warm: no new model client, sandbox pool or memory to open) and
    builds a new one when anything differs. Parts that cannot be pickled (a live model object) get a
    key of their own: nothing says they are the same the next time.
    """
    try:
        data = pickle.dumps(parts)
    except Exception:  # an unpicklable part: never shared
        return uuid.uuid4().hex
    return hashlib.sha256(data).hexdigest()


def worker_cached(token: str, build: Callable[[], T], close: Callable[[T], None]) -> T:
    """What `build` returns, built once per worker process and batch (`token`); the previous
    batch's value is closed first, so a worker holds one team at a time."""
    with _CACHE_LOCK:
        if token not in _CACHE:
            for old, close_old in _CACHE.values():
                with contextlib.suppress(Exception):  # the old batch's team is done either way
                    close_old(old)
            _CACHE.clear()
            _CACHE[token] = (build(), cast(Callable[[Any], None], close))
        return _CACHE[token][0]  # type: ignore[no-any-return]


def run_in_worker_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on this process's own event loop (one per worker, kept between tasks, so model
    clients bound to a loop keep working)."""
    global _LOOP
    with _CACHE_LOCK:
        if _LOOP is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="xolver-worker-loop", daemon=True).start()
            _LOOP = loop
        loop = _LOOP
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
