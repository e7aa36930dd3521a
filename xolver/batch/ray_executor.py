"""Run one function per item on Ray: a bounded number in flight, retries, each result once.

`map_on_ray` is what ``xolver batch --ray`` and ``xolver eval --ray`` run on. The items go to a small
pool of Ray actors (worker processes), each running up to ``solves_per_worker`` of them at once in
its own threads. A solve waits on the model almost all the time, so one process per solve (plain Ray
tasks) wastes the cores on processes: eight of them on 2 cores gave 4.9x the throughput of one, where
eight solves in one process gave 6.7x (docs/benchmarks.md). The function and the shared value (the
team's config, a caller's model) are shipped to each actor once; the actor builds its model client
and store once per batch (`worker_cached`), and nothing but the item and its result crosses the wire
per call.

What it guarantees:

- At most ``max_in_flight`` items run at once (sizing: docs/scale.md).
- An item whose worker dies (killed, out of memory, node lost) is run again, up to ``max_retries``
  times; Ray restarts the worker for the items after it. An exception *inside* the function is not
  retried (the functions return their own errors as data).
- Each item's result is handed to ``on_done`` exactly once, in the driver, whatever Ray retried;
  an item whose retries ran out goes to ``on_failed`` once.

Ray is imported only when `map_on_ray` runs (``pip install "xolver[ray]"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
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
        max_in_flight: items submitted and not finished at any time.
        max_retries: how many times an item is run again when its worker dies.
        cpus_per_task: the CPU share each item reserves (a worker reserves its share times the items
            it runs at once). Solves wait on the model almost all the time, so the default lets four
            share a core; raise it for CPU-heavy work.
        solves_per_worker: items one worker process runs at once, in threads. The pool has
            ``ceil(max_in_flight / solves_per_worker)`` workers, spread over the cluster's nodes;
            1 gives each item a process of its own (for work that holds the GIL).
        runtime_env: Ray's runtime environment for the workers (``env_vars``, ``pip``, ...).
    """

    address: str | None = None
    max_in_flight: int = 8
    max_retries: int = 3
    cpus_per_task: float = 0.25
    solves_per_worker: int = 4
    runtime_env: dict[str, Any] | None = field(default=None, hash=False)

    def pool(self) -> tuple[int, int]:
        """(workers, items each runs at once): as few workers as `solves_per_worker` allows, the
        in-flight items shared evenly among them."""
        in_flight = max(1, self.max_in_flight)
        workers = math.ceil(in_flight / max(1, self.solves_per_worker))
        return workers, math.ceil(in_flight / workers)


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
    """Run ``function(shared, item)`` for every ``(key, item)`` on a pool of Ray workers.

    Args:
        function: a module-level function (the workers import it by name).
        shared: sent to the object store once and handed to every worker.
        items: (key, item) pairs; the key identifies the item in the callbacks.
        options: cluster, limits and pool size.
        on_done: called in the driver, once per key, with the function's result.
        on_failed: called once per key that failed for good (retries spent, or a crash).

    Raises:
        UserError: Ray is not installed, or the cluster cannot be reached.
        Whatever `on_done` or `on_failed` raise: the workers are stopped first.
    """
    ray = require_ray()
    if not items:  # nothing to run: no cluster to start or reach
        return
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
    pool = _pool(ray, function, options)
    clean = False
    try:
        await _dispatch(pool, ray.put(shared), items, on_done=on_done, on_failed=on_failed)
        clean = True
    finally:
        if not clean or started_here:
            # Stop what is still running (an error in a callback, a cancelled batch); a worker that
            # is already gone has nothing left to stop.
            _POOLS.pop(pool.key, None)
            for actor in pool.actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
        if started_here:
            ray.shutdown()


@dataclass
class _Pool:
    key: tuple[Any, ...]
    actors: list[Any]
    slots: int


# The driver's pool, kept while its Ray session lasts: the next batch with the same function and
# pool size finds its workers running and their teams built (`worker_cached`), instead of starting
# processes and importing xolver again. A batch with other settings replaces it.
_POOLS: dict[tuple[Any, ...], _Pool] = {}


def _pool(ray: Any, function: Callable[[Any, Any], Any], options: RayOptions) -> _Pool:
    count, slots = options.pool()
    session = _session(ray)
    key: tuple[Any, ...] = (session, function.__module__, function.__qualname__, count, slots)
    key += (options.cpus_per_task, options.max_retries)
    if key in _POOLS:
        return _POOLS[key]
    # One pool at a time, like one team per worker: the previous one's workers would hold their CPUs
    # and could leave the new one's unplaceable. (A pool of an earlier Ray session is gone already.)
    for old in _POOLS.values():
        if old.key[0] == session:
            for actor in old.actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
    _POOLS.clear()
    worker_class = ray.remote(
        num_cpus=options.cpus_per_task * slots,
        max_concurrency=slots,
        # A dead worker is restarted for the items after it, however often; how often one item is
        # rerun is `max_task_retries`.
        max_restarts=-1,
        max_task_retries=options.max_retries,
        scheduling_strategy="SPREAD",
    )(_Worker)
    pool = _Pool(key=key, actors=[worker_class.remote(function) for _ in range(count)], slots=slots)
    _POOLS[key] = pool
    return pool


def _session(ray: Any) -> tuple[str, str]:
    """This driver's Ray session: its job and the node it is attached to. A local Ray started again in
    the same process numbers its first job alike, but its node is new, so no pool of the old one is
    taken for a live one."""
    context = ray.get_runtime_context()
    try:
        node = str(context.get_node_id())
    except Exception:  # Ray Client may not say; the job id alone then
        node = ""
    return str(context.get_job_id()), node


async def _dispatch(
    pool: _Pool,
    shared_ref: Any,
    items: Sequence[tuple[int, Any]],
    *,
    on_done: Callable[[int, Any], None],
    on_failed: Callable[[int, BaseException], None],
) -> None:
    """Keep every started worker's slots busy until the items run out; report each key once.

    Items go only to workers that have started: a worker the cluster cannot place yet (no free CPU)
    holds no items hostage, the started ones take them.
    """
    actors, slots = pool.actors, pool.slots
    ready: dict[asyncio.Future[Any], int] = {
        asyncio.wrap_future(actor.ready.remote().future()): n for n, actor in enumerate(actors)
    }
    started: list[int] = []
    busy = [0] * len(actors)
    running: dict[asyncio.Future[Any], tuple[int, int]] = {}
    queue = iter(items)
    exhausted = False
    finished: set[int] = set()
    first_error: BaseException | None = None

    def submit() -> None:
        nonlocal exhausted
        while not exhausted:
            free = [n for n in started if busy[n] < slots]
            if not free:
                return
            nxt = next(queue, None)
            if nxt is None:
                exhausted = True
                return
            key, item = nxt
            n = min(free, key=lambda i: busy[i])
            busy[n] += 1
            running[asyncio.wrap_future(actors[n].run.remote(shared_ref, item).future())] = (key, n)

    try:
        while running or (ready and not exhausted):
            done, _ = await asyncio.wait([*running, *ready], return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                if future in ready:
                    n = ready.pop(future)
                    if future.exception() is None:
                        started.append(n)
                    else:
                        first_error = first_error or future.exception()
                    continue
                key, n = running.pop(future)
                busy[n] -= 1
                if key in finished:  # never twice, whatever the cluster did
                    continue
                finished.add(key)
                error = future.exception()
                if error is not None:
                    on_failed(key, error)
                else:
                    on_done(key, future.result())
            if not started and not ready:
                reason = str(first_error).strip().splitlines()[-1] if first_error else "unknown"
                raise UserError(f"no Ray worker could start: {reason}")
            submit()
    finally:
        for future in ready:
            future.cancel()


class _Worker:
    """One Ray worker process of a pool: runs `function(shared, item)`, several at once in threads
    (Ray's ``max_concurrency``), which share the function's per-process cache and event loop."""

    def __init__(self, function: Callable[[Any, Any], Any]) -> None:
        self.function = function

    def ready(self) -> bool:
        return True

    def run(self, shared: Any, item: Any) -> Any:
        return self.function(shared, item)


# ---------------------------------------------------------------------- inside a worker

_CACHE: dict[str, tuple[Any, Callable[[Any], None]]] = {}
# Reentrant: closing the previous batch's team runs its async close on the loop `run_in_worker_loop`
# starts, under this lock.
_CACHE_LOCK = threading.RLock()
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
