"""`PythonSandbox`: run model-written Python in separate, locked-down processes.

Model-written code is untrusted input. It never runs in our process: every snippet runs in a worker
process started from ``_worker_main.py`` with a scrubbed environment, hard resource limits and,
where the OS allows it, its own Linux namespaces.

What is isolated, per platform:

Linux with user namespaces (most distributions; also when running as root):
    * network: a new, empty network namespace (no interfaces up, not even loopback), so sockets to
      127.0.0.1 or anywhere else fail with "Network is unreachable". Switch off with
      ``SandboxLimits(network=True)``, which skips the network namespace.
    * processes: a new PID namespace. The snippet sees only its own processes (``/proc`` is a fresh
      procfs), cannot signal ours, and every process it starts is killed after each call (and when a
      run times out the whole namespace dies with its PID 1).
    * filesystem: a private mount namespace holding a minimal root, entered with ``pivot_root``:
      read-only ``/usr``, the Python installation and its ``sys.path`` (wherever they live, ``/tmp``
      included; a source checkout on ``sys.path`` shows only its importable entries), a few
      ``/etc`` files, device nodes, a private ``/proc``, and fresh size-limited tmpfs on ``/tmp``
      and ``/dev/shm`` (the scratch directory, cwd and ``$HOME``, lives there). No home
      directories, no ``/root``, ``/home``, ``/etc/shadow`` or project files; extra paths only
      through ``SandboxLimits(readable_paths=...)``. Where that view is refused, the host's tree
      read-only (``Isolation.view`` says which).
    * syscalls: a seccomp-bpf deny list (``ptrace``, ``mount``, ``unshare``, ``setns``, ``bpf``,
      ``keyctl``, ``perf_event_open``, ``io_uring``, module and reboot calls, raw sockets, ...;
      `_worker.seccomp`), also installed where namespaces are not.
    * privileges: a user namespace whose only uid is not 0, no capabilities, ``no_new_privs``.
    * IPC: a new System V IPC namespace.
Linux without user namespaces (e.g. disabled by sysctl or an AppArmor policy), macOS, other POSIX:
    only resource limits, the scrubbed environment, the seccomp filter (Linux), a scratch directory
    as cwd, and best-effort process clean-up (a new session, subreaper processes that kill every
    descendant they see). The network, the filesystem and our own processes are *not* isolated: a
    snippet can open sockets, write wherever our user can, signal our processes, and a
    double-forked daemon that also kills its supervisor can survive. `PythonSandbox.isolation`
    reports which case applies.
Everywhere:
    * limits: wall time (enforced by us), CPU seconds, address space, processes, file size, open
      files (``setrlimit`` in the worker; ``RLIMIT_NPROC`` counts per user namespace, so it only
      bounds fork bombs where the user namespace exists or we are not root);
    * environment: built from scratch (``PATH``, ``LANG``, ``HOME`` = scratch, thread caps, ...);
      nothing of ours, no keys, tokens or credentials;
    * output: stdout and stderr are drained incrementally and only the first ``max_output_bytes``
      are kept; a snippet that floods raw file descriptors is stopped.
    * not isolated: CPU caches and timing side channels, the kernel calls the filter allows, reading
      ``/usr`` and the Python installation, and (inside a session) threads a snippet starts keep
      running between calls.

Other backends (``executor="bwrap"``, ``"docker"``, ``"podman"``, ``"e2b"``) are described in
`xolver.tools.sandbox.executors`.

Windows is not supported.

The package: this module holds the API (`PythonSandbox`, `SandboxSession`, `run_python`); `limits`
what a sandbox promises and reports (`SandboxLimits`, `Isolation`, `ExecutionResult`); `executors`
where workers run; `_process`
a worker's lifecycle and environment; `_pipes` the frames and output sinks on our side; `_worker`
the far side, which runs inside the worker process on the standard library alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Coroutine, Mapping
from typing import Any

from xolver.errors import UserError
from xolver.tools.sandbox._process import Worker, looks_secret
from xolver.tools.sandbox.executors import E2BExecutor, Executor, ExecutorName, make_executor
from xolver.tools.sandbox.limits import ExecutionResult, ExecutionStatus, Isolation, SandboxLimits

__all__ = [
    "ExecutionResult",
    "ExecutionStatus",
    "Executor",
    "ExecutorName",
    "Isolation",
    "PythonSandbox",
    "SandboxLimits",
    "SandboxSession",
    "run_python",
]


class PythonSandbox:
    """Runs Python snippets in isolated worker processes, with a pool of warm workers.

    Every `run` gets a fresh worker (nothing carries over between runs) taken from a pool of
    pre-started ones, so a small snippet costs a few milliseconds. `session` gives a worker that keeps
    its variables and imports between calls, like a notebook kernel. What is and is not isolated on
    each platform is described in this package's docstring and in ``docs/sandbox.md``.

    Use it as an async context manager, or call `aclose` when done, so idle workers are stopped.

    Example:
        >>> async with PythonSandbox() as sandbox:  # doctest: +SKIP
        ...     result = await sandbox.run("print(2 + 2)")
    """

    def __init__(
        self,
        limits: SandboxLimits | None = None,
        *,
        pool_size: int = 2,
        python: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        executor: ExecutorName | Executor = "local",
        executor_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Configure the sandbox; no process starts until the first run (or `start`).

        Args:
            limits: hard limits per snippet; defaults to `SandboxLimits()`.
            pool_size: idle warm workers to keep ready (0 disables the pool).
            python: interpreter for the workers; defaults to ours (so numpy/sympy match).
            extra_env: extra environment variables for snippets; names that look like secrets
                (containing KEY, TOKEN, SECRET, PASSWORD, ...) are refused.
            executor: where workers run: ``"local"`` (default), ``"bwrap"``, ``"docker"``,
                ``"podman"`` or ``"e2b"`` (see `xolver.tools.sandbox.executors`), or an `Executor`.
            executor_options: options for that backend, e.g. ``{"image": "python:3.11-slim@sha256:..."}``.

        Raises:
            UserError: on Windows, for a negative pool size, for a secret-looking variable, or for
                an executor that is not available (missing binary or SDK, unpinned image).
        """
        if os.name != "posix":
            raise UserError("PythonSandbox needs a POSIX system (Linux or macOS)")
        if pool_size < 0:
            raise UserError(f"pool_size must be >= 0, got {pool_size!r}")
        extra = dict(extra_env or {})
        leaked = sorted(name for name in extra if looks_secret(name))
        if leaked:
            raise UserError(f"refusing to pass secret-looking variables into the sandbox: {leaked!r}")
        self.limits = limits or SandboxLimits()
        self.pool_size = pool_size
        self.python = python or sys.executable
        self._extra_env = extra
        self.executor = make_executor(executor, **dict(executor_options or {}))
        self._idle: list[Worker] = []
        self._busy: set[Worker] = set()
        self._refills: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._isolation: Isolation | None = None
        self._closed = False

    async def __aenter__(self) -> PythonSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Fill the warm pool now instead of on first use."""
        self._bind_loop()
        await self._refill()

    async def isolation(self) -> Isolation:
        """What isolation this machine gives a worker (probed once, then cached)."""
        if self._isolation is None and isinstance(self.executor, E2BExecutor):
            self._isolation = Isolation.model_validate(self.executor.layers(self.limits))
        if self._isolation is None:
            worker = await self._take()
            self._isolation = worker.isolation
            self._idle.append(worker)
        return self._isolation

    async def run(self, code: str, *, timeout: float | None = None) -> ExecutionResult:
        """Run `code` in a fresh worker and report what happened.

        Args:
            code: Python source; the repr of a final expression is returned as `value`.
            timeout: wall-clock seconds, overriding `SandboxLimits.timeout`.

        Returns:
            The result; failures of the snippet (exceptions, limits, timeouts, crashes) are results
            with ``ok=False`` and a reason in ``error``, never exceptions.
        """
        if isinstance(self.executor, E2BExecutor):
            box = await self.executor.open()
            try:
                return await self.executor.execute(
                    box, code, timeout=timeout or self.limits.timeout, limits=self.limits
                )
            finally:
                await self.executor.close(box)
        worker = await self._take()
        self._busy.add(worker)
        try:
            return await worker.execute(
                code, timeout=timeout or self.limits.timeout, cpu_seconds=self.limits.cpu_seconds
            )
        finally:
            # The snippet's own processes are already dead (the worker kills them before replying);
            # the worker is signalled now and reaped in the background, off the caller's latency.
            worker.signal_kill()
            self._track(self._retire(worker))
            self._schedule_refill()

    async def _retire(self, worker: Worker) -> None:
        try:
            await worker.kill()
        finally:
            self._busy.discard(worker)

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def session(self) -> SandboxSession:
        """A stateful session: variables and imports persist between its `run` calls."""
        return SandboxSession(self)

    async def aclose(self) -> None:
        """Stop every idle and busy worker this sandbox started."""
        self._closed = True
        for task in list(self._refills):
            task.cancel()
        for task in list(self._refills):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        workers = self._idle + list(self._busy)
        self._idle, self._busy = [], set()
        for worker in workers:
            await worker.kill()

    # -- pool

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Workers' pipes belong to the loop that started them; a new loop needs new workers.
            for worker in self._idle:
                worker.kill_now()
            self._idle = []
            self._refills = set()
            self._loop = loop
        self._closed = False

    async def _take(self) -> Worker:
        self._bind_loop()
        while self._idle:
            worker = self._idle.pop()
            if worker.alive and worker.proc is not None and worker.proc.returncode is None:
                return worker
            await worker.kill()
        return await self._spawn()

    async def _spawn(self) -> Worker:
        try:
            worker = await Worker.start(self.limits, self.python, self._extra_env, self.executor)
        except (OSError, RuntimeError, asyncio.TimeoutError) as e:
            raise UserError(f"could not start a sandbox worker with {self.python!r}: {e}") from e
        if self._isolation is None:
            self._isolation = worker.isolation
        return worker

    def _schedule_refill(self) -> None:
        if (
            self.executor.remote
            or self._closed
            or self.pool_size == 0
            or len(self._idle) + len(self._refills) >= self.pool_size
        ):
            return
        task = asyncio.ensure_future(self._refill_one())
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _refill_one(self) -> None:
        worker = await self._spawn()
        if self._closed:
            await worker.kill()
        else:
            self._idle.append(worker)

    async def _refill(self) -> None:
        while not self.executor.remote and not self._closed and len(self._idle) < self.pool_size:
            await self._refill_one()


class SandboxSession:
    """A notebook-like kernel: one worker whose variables and imports persist between calls.

    Processes a snippet starts are still killed after every call. When a call times out or crashes
    the worker, the session starts a new one (state is lost) and says so in the result.
    """

    def __init__(self, sandbox: PythonSandbox) -> None:
        """Bind the session to `sandbox` (its limits and warm pool); the worker starts on first run."""
        self._sandbox = sandbox
        self._worker: Worker | None = None
        self._remote: Any = None
        self._lock = asyncio.Lock()
        self.restarts = 0
        self.closed = False

    async def __aenter__(self) -> SandboxSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def run(self, code: str, *, timeout: float | None = None) -> ExecutionResult:
        """Run `code` in the session's worker; see `PythonSandbox.run` for the result."""
        if self.closed:
            raise UserError("this sandbox session is closed")
        async with self._lock:
            executor = self._sandbox.executor
            if isinstance(executor, E2BExecutor):
                if self._remote is None:
                    self._remote = await executor.open()
                limits = self._sandbox.limits
                return await executor.execute(self._remote, code, timeout=timeout or limits.timeout, limits=limits)
            if self._worker is None:
                self._worker = await self._sandbox._take()
            limits = self._sandbox.limits
            result = await self._worker.execute(code, timeout=timeout or limits.timeout, cpu_seconds=limits.cpu_seconds)
            if not self._worker.alive:
                await self._worker.kill()
                self._worker = None
                self.restarts += 1
                note = "the session's worker was restarted: earlier variables and imports are gone"
                result = result.model_copy(
                    update={"error": f"{result.error}; {note}", "output": f"{result.output}\n[sandbox] {note}"}
                )
            return result

    async def close(self) -> None:
        """Kill the session's worker and everything it started."""
        self.closed = True
        if self._remote is not None and isinstance(self._sandbox.executor, E2BExecutor):
            await self._sandbox.executor.close(self._remote)
            self._remote = None
        if self._worker is not None:
            await self._worker.kill()
            self._worker = None


def run_python(code: str, *, timeout: float = 10.0, limits: SandboxLimits | None = None) -> ExecutionResult:
    """Run one snippet in a fresh sandbox worker, synchronously.

    Args:
        code: Python source.
        timeout: wall-clock seconds.
        limits: other limits; `timeout` overrides theirs.

    Raises:
        UserError: when called from inside a running event loop (use `PythonSandbox.run` there).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise UserError("run_python() blocks; inside async code use `await PythonSandbox().run(code)`")

    async def once() -> ExecutionResult:
        sandbox = PythonSandbox(limits, pool_size=0)
        try:
            return await sandbox.run(code, timeout=timeout)
        finally:
            await sandbox.aclose()

    return asyncio.run(once())
