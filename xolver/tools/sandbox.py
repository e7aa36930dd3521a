"""`PythonSandbox`: run model-written Python in separate, locked-down processes.

Model-written code is untrusted input. It never runs in our process: every snippet runs in a worker
process started from ``_sandbox_worker.py`` with a scrubbed environment, hard resource limits and,
where the OS allows it, its own Linux namespaces.

What is isolated, per platform:

Linux with user namespaces (most distributions; also when running as root):
    * network: a new, empty network namespace (no interfaces up, not even loopback), so sockets to
      127.0.0.1 or anywhere else fail with "Network is unreachable". Switch off with
      ``SandboxLimits(network=True)``, which skips the network namespace.
    * processes: a new PID namespace. The snippet sees only its own processes (``/proc`` is a fresh
      procfs), cannot signal ours, and every process it starts is killed after each call (and when a
      run times out the whole namespace dies with its PID 1).
    * filesystem: a private mount namespace in which every mount is read-only; ``/tmp``,
      ``/var/tmp``, ``/dev/shm`` and ``/run`` are fresh size-limited tmpfs (hiding host sockets such as
      a Docker socket); the scratch directory (cwd and ``$HOME``) lives in that tmpfs and vanishes
      with the worker. Files stay *readable* (the interpreter and its libraries must be), so anything
      readable by our user, e.g. credential files in the home directory, is readable by a snippet.
    * privileges: a user namespace whose only uid is not 0, no capabilities, ``no_new_privs``.
    * IPC: a new System V IPC namespace.
Linux without user namespaces (e.g. disabled by sysctl or an AppArmor policy), macOS, other POSIX:
    only resource limits, the scrubbed environment, a scratch directory as cwd, and best-effort
    process clean-up (a new session, subreaper processes that kill every descendant they see). The
    network, the filesystem and our own processes are *not* isolated: a snippet can open sockets,
    write wherever our user can, signal our processes, and a double-forked daemon that also kills
    its supervisor can survive. `PythonSandbox.isolation` reports which case applies.
Everywhere:
    * limits: wall time (enforced by us), CPU seconds, address space, processes, file size, open
      files (``setrlimit`` in the worker; ``RLIMIT_NPROC`` counts per user namespace, so it only
      bounds fork bombs where the user namespace exists or we are not root);
    * environment: built from scratch (``PATH``, ``LANG``, ``HOME`` = scratch, thread caps, ...);
      nothing of ours, no keys, tokens or credentials;
    * output: stdout and stderr are drained incrementally and only the first ``max_output_bytes``
      are kept; a snippet that floods raw file descriptors is stopped.
    * not isolated: CPU caches and timing side channels, the kernel's attack surface, reading the
      readable filesystem, and (inside a session) threads a snippet starts keep running between calls.

Windows is not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xolver.errors import UserError
from xolver.tools.base import ToolResult

__all__ = [
    "ExecutionResult",
    "ExecutionStatus",
    "Isolation",
    "PythonSandbox",
    "SandboxLimits",
    "SandboxSession",
    "run_python",
]

ExecutionStatus = Literal["ok", "exception", "timeout", "cpu_limit", "memory", "output_limit", "crashed"]

_WORKER_SCRIPT = str(Path(__file__).with_name("_sandbox_worker.py"))
_MAX_REPLY = 16 * 1024 * 1024
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
_SIGNAL_REASONS = {
    signal.SIGXCPU: ("cpu_limit", "CPU time limit exceeded"),
    signal.SIGSEGV: ("crashed", "the interpreter crashed (segmentation fault; e.g. a C stack overflow)"),
    signal.SIGABRT: ("crashed", "the interpreter aborted"),
    signal.SIGKILL: ("crashed", "the worker was killed (SIGKILL)"),
    signal.SIGBUS: ("crashed", "the interpreter crashed (bus error)"),
}


class SandboxLimits(BaseModel):
    """Hard limits for every snippet.

    Attributes:
        timeout: wall-clock seconds per call, enforced by our process.
        cpu_seconds: CPU seconds per call (``RLIMIT_CPU``, checked by the kernel).
        memory_mb: address-space limit of the worker (``RLIMIT_AS``).
        max_processes: processes the worker's user may have (``RLIMIT_NPROC``).
        max_file_mb: the largest file a snippet may write (``RLIMIT_FSIZE``).
        max_open_files: open file descriptors (``RLIMIT_NOFILE``).
        max_output_bytes: bytes of stdout and of stderr kept per call; the rest is dropped.
        scratch_mb: size of the tmpfs holding the scratch directory and ``/tmp`` (Linux namespaces).
        session_cpu_seconds: CPU seconds a session's worker may use over its whole life.
        network: allow network access (skips the network namespace).
        namespaces: use Linux namespaces where the OS permits (switch off only to debug).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: float = Field(default=10.0, gt=0)
    cpu_seconds: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=1024, ge=64)
    max_processes: int = Field(default=64, ge=1)
    max_file_mb: int = Field(default=64, ge=1)
    max_open_files: int = Field(default=256, ge=16)
    max_output_bytes: int = Field(default=32_000, ge=256)
    scratch_mb: int = Field(default=256, ge=1)
    session_cpu_seconds: int = Field(default=3600, ge=1)
    network: bool = False
    namespaces: bool = True


class Isolation(BaseModel):
    """Which isolation layers a worker actually got (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: bool = False
    net: bool = False
    ipc: bool = False
    mount: bool = False
    pid: bool = False
    filesystem: bool = False
    proc: str = "host"
    capabilities: str = "kept"
    notes: list[str] = Field(default_factory=list)

    @property
    def full(self) -> bool:
        """Whether network, processes and filesystem are all isolated."""
        return self.user and self.pid and self.filesystem and self.proc == "private"

    def summary(self) -> str:
        """One line for logs and docs."""
        layers = [name for name in ("user", "net", "ipc", "mount", "pid", "filesystem") if getattr(self, name)]
        text = f"namespaces: {', '.join(layers) or 'none'}; /proc: {self.proc}; capabilities: {self.capabilities}"
        return text + (f"; notes: {'; '.join(self.notes)}" if self.notes else "")


class ExecutionResult(ToolResult):
    """What one snippet did: a `ToolResult` plus the details.

    Attributes:
        status: how the run ended.
        stdout: captured standard output (truncated to the configured size).
        stderr: captured standard error (truncated likewise).
        value: ``repr`` of the snippet's final expression, if it had one and it was not None.
        traceback: the snippet's traceback when it raised.
        truncated: whether some output was dropped.
    """

    status: ExecutionStatus
    stdout: str = ""
    stderr: str = ""
    value: str | None = None
    traceback: str | None = None
    truncated: bool = False


class _Reply(BaseModel):
    """A result frame from the worker; validated because the snippet could forge one."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["result"]
    status: Literal["ok", "exception", "memory"]
    value: str | None = None
    error: str | None = None
    exit_code: int | None = None
    stdout_dropped: int = 0
    stderr_dropped: int = 0


class _Sink:
    """Drains one output pipe: keeps the first `limit` bytes of each run, counts the rest.

    A run's output ends at its nonce, which the worker writes after the snippet finished.
    """

    def __init__(self, reader: asyncio.StreamReader, limit: int) -> None:
        self.limit = limit
        self.flood_limit = 8 * limit + 1_000_000
        self.kept = bytearray()
        self.total = 0
        self.done = asyncio.Event()
        self.flooded = asyncio.Event()
        self.eof = False
        self._nonce: bytes | None = None
        self._held = b""
        self._task = asyncio.ensure_future(self._pump(reader))

    def begin(self, nonce: bytes) -> None:
        self.kept = bytearray()
        self.total = 0
        self._held = b""
        self._nonce = nonce
        self.done.clear()
        self.flooded.clear()
        if self.eof:
            self.done.set()

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")

    @property
    def dropped(self) -> int:
        return max(0, self.total - len(self.kept))

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(65536):
                self._feed(chunk)
        finally:
            self.eof = True
            if self._held:
                self._commit(self._held)
                self._held = b""
            self.done.set()

    def _feed(self, chunk: bytes) -> None:
        if self._nonce is None:
            return  # between runs: output of nobody we report on
        data = self._held + chunk
        at = data.find(self._nonce)
        if at >= 0:
            self._commit(data[:at])
            self._held = b""
            self._nonce = None
            self.done.set()
            return
        keep = len(self._nonce) - 1
        self._commit(data[: len(data) - keep] if len(data) > keep else b"")
        self._held = data[len(data) - keep :] if len(data) > keep else data

    def _commit(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        if self.total > self.flood_limit:
            self.flooded.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


def _clean_env(scratch: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The worker's whole environment, built from nothing so no secret of ours can leak."""
    path_dirs = [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": os.pathsep.join(dict.fromkeys(path_dirs)),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": scratch,
        "TMPDIR": scratch,
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONNOUSERSITE": "1",
        # One thread per math library: predictable under RLIMIT_AS and fair on small machines.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }
    env.update(extra)
    return env


def _looks_secret(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS)


class _Worker:
    """One worker process tree (supervisor, init, kernel) and the pipes to it."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.replies: asyncio.StreamReader | None = None
        self.reply_transport: asyncio.BaseTransport | None = None
        self.stdout: _Sink | None = None
        self.stderr: _Sink | None = None
        self.init_pid = 0
        self.init_pidfd: int | None = None
        self.scratch = ""
        self.isolation = Isolation()
        self.alive = False

    @classmethod
    async def start(cls, limits: SandboxLimits, python: str, extra_env: Mapping[str, str]) -> _Worker:
        worker = cls()
        try:
            await worker._start(limits, python, extra_env)
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def _start(self, limits: SandboxLimits, python: str, extra_env: Mapping[str, str]) -> None:
        loop = asyncio.get_running_loop()
        self.scratch = tempfile.mkdtemp(prefix="xolver-sandbox-")
        read_fd, write_fd = os.pipe()
        config = {
            "host_pid": os.getpid(),
            "reply_fd": write_fd,
            "namespaces": limits.namespaces,
            "network": limits.network,
            "scratch": self.scratch,
            "scratch_mb": limits.scratch_mb,
            "memory_mb": limits.memory_mb,
            "max_file_mb": limits.max_file_mb,
            "max_open_files": limits.max_open_files,
            "max_processes": limits.max_processes,
            "cpu_hard_seconds": limits.session_cpu_seconds,
            "max_output_bytes": limits.max_output_bytes,
        }
        try:
            self.proc = await asyncio.create_subprocess_exec(
                python,
                _WORKER_SCRIPT,
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(write_fd,),
                env=_clean_env(self.scratch, extra_env),
                cwd=self.scratch,
                close_fds=True,
            )
        finally:
            os.close(write_fd)
        self.replies = asyncio.StreamReader(limit=_MAX_REPLY)
        protocol = asyncio.StreamReaderProtocol(self.replies)
        self.reply_transport, _ = await loop.connect_read_pipe(
            lambda: protocol,
            os.fdopen(read_fd, "rb", buffering=0),
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stdout = _Sink(self.proc.stdout, limits.max_output_bytes)
        self.stderr = _Sink(self.proc.stderr, limits.max_output_bytes)
        self.alive = True
        got_hello = False
        while not (got_hello and self.init_pid):
            frame = await asyncio.wait_for(self._read_frame(), timeout=60)
            if frame is None:
                raise RuntimeError("sandbox worker exited during start-up")
            if frame.get("type") == "spawned":
                self.init_pid = int(frame["init_pid"])
                with contextlib.suppress(AttributeError, OSError):
                    # A pidfd keeps naming this exact process even if its pid is recycled later.
                    self.init_pidfd = os.pidfd_open(self.init_pid)
            elif frame.get("type") == "hello":
                self.isolation = Isolation.model_validate(frame.get("isolation", {}))
                got_hello = True
            elif frame.get("type") == "fatal":
                raise RuntimeError(f"sandbox worker failed to start: {frame.get('error')}")

    async def _read_frame(self) -> dict[str, Any] | None:
        assert self.replies is not None
        try:
            head = await self.replies.readexactly(4)
            (size,) = struct.unpack(">I", head)
            if size > _MAX_REPLY:
                return None
            body = await self.replies.readexactly(size)
            value = json.loads(body)
        except (asyncio.IncompleteReadError, ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    async def execute(self, code: str, *, timeout: float, cpu_seconds: int) -> ExecutionResult:
        """Run one snippet; any failure of the snippet or the worker becomes a failed result."""
        assert self.proc is not None and self.proc.stdin is not None
        assert self.stdout is not None and self.stderr is not None
        started = time.perf_counter()
        nonce = f"\x00<xolver-{secrets.token_hex(12)}>\x00"
        self.stdout.begin(nonce.encode())
        self.stderr.begin(nonce.encode())
        body = json.dumps({"type": "run", "code": code, "nonce": nonce, "cpu_seconds": cpu_seconds}).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(body)) + body)
            await self.proc.stdin.drain()
        except (ConnectionError, OSError):
            await self.kill()
            return self._failure("crashed", "the sandbox worker was not running", started)
        reply_task = asyncio.ensure_future(self._read_frame())
        flood = asyncio.ensure_future(_first(self.stdout.flooded, self.stderr.flooded))
        try:
            finished, _ = await asyncio.wait({reply_task, flood}, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            flood.cancel()
        if reply_task not in finished:
            reply_task.cancel()
            await self.kill()
            if flood in finished:
                return self._failure("output_limit", "the snippet flooded its output and was stopped", started)
            return self._failure("timeout", f"timed out after {timeout:g} s (wall clock) and was killed", started)
        frame = reply_task.result()
        reply: _Reply | None = None
        if frame is not None:
            with contextlib.suppress(ValidationError):
                reply = _Reply.model_validate(frame)
        if reply is None:
            code_ = await self._exit_code()
            await self.kill()
            status, reason = _describe_exit(code_)
            return self._failure(status, reason, started)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_all(self.stdout.done, self.stderr.done), timeout=5)
        return self._result(reply, started)

    async def _exit_code(self) -> int | None:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout=5)
        except asyncio.TimeoutError:
            return None

    def _result(self, reply: _Reply, started: float) -> ExecutionResult:
        assert self.stdout is not None and self.stderr is not None
        stdout_dropped = self.stdout.dropped + reply.stdout_dropped
        stderr_dropped = self.stderr.dropped + reply.stderr_dropped
        stdout = self.stdout.text() + (
            f"\n[... {stdout_dropped} more bytes of stdout dropped]" if stdout_dropped else ""
        )
        stderr = self.stderr.text() + (
            f"\n[... {stderr_dropped} more bytes of stderr dropped]" if stderr_dropped else ""
        )
        error: str | None = None
        trace: str | None = None
        if reply.status != "ok":
            trace = reply.error or "the snippet failed"
            error = trace.strip().splitlines()[-1] if trace.strip() else "the snippet failed"
        elif reply.exit_code:
            error = f"the snippet called exit({reply.exit_code})"
        status: ExecutionStatus = "ok" if reply.status == "ok" else reply.status
        parts = [p.rstrip("\n") for p in (stdout, stderr and f"[stderr]\n{stderr}", reply.value, trace) if p]
        return ExecutionResult(
            ok=status == "ok" and not reply.exit_code,
            output="\n".join(parts),
            error=error,
            seconds=time.perf_counter() - started,
            status=status,
            stdout=stdout,
            stderr=stderr,
            value=reply.value,
            traceback=trace,
            truncated=bool(stdout_dropped or stderr_dropped),
        )

    def _failure(self, status: ExecutionStatus, reason: str, started: float) -> ExecutionResult:
        stdout = self.stdout.text() if self.stdout else ""
        stderr = self.stderr.text() if self.stderr else ""
        parts = [p.rstrip("\n") for p in (stdout, stderr and f"[stderr]\n{stderr}", f"[sandbox] {reason}") if p]
        return ExecutionResult(
            ok=False,
            output="\n".join(parts),
            error=reason,
            seconds=time.perf_counter() - started,
            status=status,
            stdout=stdout,
            stderr=stderr,
            truncated=bool(self.stdout and self.stdout.dropped) or bool(self.stderr and self.stderr.dropped),
        )

    def signal_kill(self) -> None:
        """Send SIGKILL to the worker's init; in a PID namespace the kernel then kills all the rest."""
        if self.init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
        elif self.init_pid:
            with contextlib.suppress(OSError):
                os.kill(self.init_pid, signal.SIGKILL)
        self.alive = False

    async def kill(self) -> None:
        """Kill the worker and everything it started, wait for it, and remove its scratch directory."""
        self.signal_kill()
        if self.proc is not None and self.proc.returncode is None:
            try:
                # The supervisor exits once init is gone, after killing any stray descendant.
                await asyncio.wait_for(self.proc.wait(), timeout=5)
            except asyncio.TimeoutError:
                with contextlib.suppress(OSError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        for sink in (self.stdout, self.stderr):
            if sink is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(sink.done.wait(), timeout=1) if not sink.eof else None
                await sink.close()
        if self.reply_transport is not None:
            self.reply_transport.close()
            self.reply_transport = None
        if self.init_pidfd is not None:
            os.close(self.init_pidfd)
            self.init_pidfd = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = ""

    def kill_now(self) -> None:
        """Synchronous best-effort kill, for a worker whose event loop is gone."""
        for target in (self.init_pid, self.proc.pid if self.proc else 0):
            if target:
                with contextlib.suppress(OSError):
                    os.kill(target, signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.init_pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.init_pidfd)
            self.init_pidfd = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = ""
        self.alive = False


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
    finally:
        for w in waiters:
            w.cancel()


async def _all(*events: asyncio.Event) -> None:
    for event in events:
        await event.wait()


def _describe_exit(code: int | None) -> tuple[ExecutionStatus, str]:
    if code is None:
        return "crashed", "the sandbox worker stopped answering"
    if code > 128:
        with contextlib.suppress(ValueError):
            sig = signal.Signals(code - 128)
            status, reason = _SIGNAL_REASONS.get(sig, ("crashed", f"the worker died from signal {sig.name}"))
            return status, reason  # type: ignore[return-value]
    return "crashed", f"the snippet ended the interpreter (exit code {code})"


class PythonSandbox:
    """Runs Python snippets in isolated worker processes, with a pool of warm workers.

    Every `run` gets a fresh worker (nothing carries over between runs) taken from a pool of
    pre-started ones, so a small snippet costs a few milliseconds. `session` gives a worker that keeps
    its variables and imports between calls, like a notebook kernel. What is and is not isolated on
    each platform is described in this module's docstring and in ``docs/sandbox.md``.

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
    ) -> None:
        """Configure the sandbox; no process starts until the first run (or `start`).

        Args:
            limits: hard limits per snippet; defaults to `SandboxLimits()`.
            pool_size: idle warm workers to keep ready (0 disables the pool).
            python: interpreter for the workers; defaults to ours (so numpy/sympy match).
            extra_env: extra environment variables for snippets; names that look like secrets
                (containing KEY, TOKEN, SECRET, PASSWORD, ...) are refused.

        Raises:
            UserError: on Windows, for a negative pool size, or for a secret-looking variable.
        """
        if os.name != "posix":
            raise UserError("PythonSandbox needs a POSIX system (Linux or macOS)")
        if pool_size < 0:
            raise UserError(f"pool_size must be >= 0, got {pool_size!r}")
        extra = dict(extra_env or {})
        leaked = sorted(name for name in extra if _looks_secret(name))
        if leaked:
            raise UserError(f"refusing to pass secret-looking variables into the sandbox: {leaked!r}")
        self.limits = limits or SandboxLimits()
        self.pool_size = pool_size
        self.python = python or sys.executable
        self._extra_env = extra
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
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

    async def _retire(self, worker: _Worker) -> None:
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

    async def _take(self) -> _Worker:
        self._bind_loop()
        while self._idle:
            worker = self._idle.pop()
            if worker.alive and worker.proc is not None and worker.proc.returncode is None:
                return worker
            await worker.kill()
        return await self._spawn()

    async def _spawn(self) -> _Worker:
        try:
            worker = await _Worker.start(self.limits, self.python, self._extra_env)
        except (OSError, RuntimeError, asyncio.TimeoutError) as e:
            raise UserError(f"could not start a sandbox worker with {self.python!r}: {e}") from e
        if self._isolation is None:
            self._isolation = worker.isolation
        return worker

    def _schedule_refill(self) -> None:
        if self._closed or self.pool_size == 0 or len(self._idle) + len(self._refills) >= self.pool_size:
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
        while not self._closed and len(self._idle) < self.pool_size:
            await self._refill_one()


class SandboxSession:
    """A notebook-like kernel: one worker whose variables and imports persist between calls.

    Processes a snippet starts are still killed after every call. When a call times out or crashes
    the worker, the session starts a new one (state is lost) and says so in the result.
    """

    def __init__(self, sandbox: PythonSandbox) -> None:
        """Bind the session to `sandbox` (its limits and warm pool); the worker starts on first run."""
        self._sandbox = sandbox
        self._worker: _Worker | None = None
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
