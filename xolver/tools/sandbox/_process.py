"""A worker process tree and its lifecycle: start, run one snippet, kill; the environment it gets.

The far side is the ``_worker`` package, started through ``_worker_main.py`` with our interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from xolver.tools.sandbox._pipes import MAX_REPLY, OutputSink, Reply, encode_frame, read_frame
from xolver.tools.sandbox.executors import Executor, LocalExecutor
from xolver.tools.sandbox.limits import ExecutionResult, ExecutionStatus, Isolation, SandboxLimits

WORKER_SCRIPT = str(Path(__file__).with_name("_worker_main.py"))
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
_SIGNAL_REASONS = {
    signal.SIGXCPU: ("cpu_limit", "CPU time limit exceeded"),
    signal.SIGSEGV: ("crashed", "the interpreter crashed (segmentation fault; e.g. a C stack overflow)"),
    signal.SIGABRT: ("crashed", "the interpreter aborted"),
    signal.SIGKILL: ("crashed", "the worker was killed (SIGKILL)"),
    signal.SIGBUS: ("crashed", "the interpreter crashed (bus error)"),
}


def clean_env(scratch: str, extra: Mapping[str, str]) -> dict[str, str]:
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


def looks_secret(name: str) -> bool:
    """Whether an environment variable's name suggests a secret (KEY, TOKEN, SECRET, PASSWORD, ...)."""
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_MARKERS)


async def _reader_on(loop: asyncio.AbstractEventLoop, fd: int, pending: set[int]) -> asyncio.StreamReader:
    """A stream reader on the read end `fd` of a pipe, which its transport owns from now on."""
    reader = asyncio.StreamReader()
    pending.discard(fd)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
    return reader


class Child:
    """A started process, awaited without asyncio's child watcher: a pidfd becomes readable when the
    process exits (Linux 5.3+); elsewhere its status is polled every 20 ms."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()

    async def wait(self) -> int:
        code = self._popen.poll()
        if code is not None:
            return code
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            while (code := self._popen.poll()) is None:
                await asyncio.sleep(0.02)
            return code
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            if self._popen.poll() is None:
                await exited
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self._popen.wait()


class Worker:
    """One worker process tree (supervisor, init, kernel) and the pipes to it."""

    def __init__(self) -> None:
        self.proc: Child | None = None
        self.requests: asyncio.StreamWriter | None = None
        self.replies: asyncio.StreamReader | None = None
        self.reply_transport: asyncio.BaseTransport | None = None
        self.stdout: OutputSink | None = None
        self.stderr: OutputSink | None = None
        self.init_pid = 0
        self.init_pidfd: int | None = None
        self.scratch = ""
        self.ipc_dir = ""
        self.isolation = Isolation()
        self.alive = False
        self.executor: Executor = LocalExecutor()

    @classmethod
    async def start(
        cls, limits: SandboxLimits, python: str, extra_env: Mapping[str, str], executor: Executor | None = None
    ) -> Worker:
        worker = cls()
        worker.executor = executor or LocalExecutor()
        try:
            await worker._start(limits, python, extra_env)
        except BaseException:
            await worker.kill()
            raise
        return worker

    async def _start(self, limits: SandboxLimits, python: str, extra_env: Mapping[str, str]) -> None:
        loop = asyncio.get_running_loop()
        executor = self.executor
        await executor.prepare(python)
        self.scratch = tempfile.mkdtemp(prefix="xolver-sandbox-")
        listener: socket.socket | None = None
        read_fd = write_fd = -1
        if executor.reply_socket:
            # A pipe cannot cross into a container: the worker connects once to a socket we then close.
            self.ipc_dir = tempfile.mkdtemp(prefix="xolver-ipc-")
            os.chmod(self.ipc_dir, 0o777)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(os.path.join(self.ipc_dir, "reply.sock"))
            os.chmod(os.path.join(self.ipc_dir, "reply.sock"), 0o777)
            listener.listen(1)
            listener.setblocking(False)
        else:
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
            "seccomp": limits.seccomp,
            "readable_paths": list(limits.readable_paths),
            "host_ipc_dir": self.ipc_dir,
        }
        config = executor.configure(config, limits)
        env = clean_env(self.scratch, extra_env)
        # The worker is started with subprocess.Popen on pipes we make and connect ourselves, not with
        # asyncio's subprocess support: a task cancelled while asyncio connects a child's pipes (a pool
        # refill when `asyncio.run` shuts its loop down) waits forever in CPython 3.11's cleanup for a
        # pipe that never connected, and the whole program hangs on exit.
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            argv = executor.command(python, WORKER_SCRIPT, config, limits, env)
            self.proc = Child(
                subprocess.Popen(
                    argv,
                    stdin=stdin_r,
                    stdout=stdout_w,
                    stderr=stderr_w,
                    pass_fds=(write_fd,) if write_fd >= 0 else (),
                    env=env,
                    cwd=self.scratch,
                    close_fds=True,
                )
            )
            executor.started(self.proc.pid)
        except BaseException:
            for fd in (stdin_w, stdout_r, stderr_r):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_r, stdout_w, stderr_w, write_fd):
                if fd >= 0:
                    os.close(fd)
        # Each descriptor belongs to its transport from here on; one not yet connected is closed on failure.
        pending = {stdout_r, stderr_r, stdin_w}
        try:
            self.stdout = OutputSink(await _reader_on(loop, stdout_r, pending), limits.max_output_bytes)
            self.stderr = OutputSink(await _reader_on(loop, stderr_r, pending), limits.max_output_bytes)
            pending.discard(stdin_w)
            transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), os.fdopen(stdin_w, "wb", buffering=0)
            )
            self.requests = asyncio.StreamWriter(transport, protocol, None, loop)
        except BaseException:
            for fd in pending:
                os.close(fd)
            raise
        if listener is not None:
            try:
                conn, _ = await asyncio.wait_for(loop.sock_accept(listener), timeout=120)
            finally:
                listener.close()
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.ipc_dir, "reply.sock"))
            self.replies, writer = await asyncio.open_connection(sock=conn, limit=MAX_REPLY)
            self.reply_transport = writer.transport
        else:
            self.replies = asyncio.StreamReader(limit=MAX_REPLY)
            protocol = asyncio.StreamReaderProtocol(self.replies)
            self.reply_transport, _ = await loop.connect_read_pipe(
                lambda: protocol,
                os.fdopen(read_fd, "rb", buffering=0),
            )
        self.alive = True
        got_hello = got_spawned = False
        while not (got_hello and got_spawned):
            frame = await asyncio.wait_for(self._read_frame(), timeout=60)
            if frame is None:
                raise RuntimeError("sandbox worker exited during start-up")
            if frame.get("type") == "spawned":
                got_spawned = True
                if executor.trusts_worker_pids:
                    # (A pid from inside a PID namespace someone else made names an unrelated process here.)
                    self.init_pid = int(frame["init_pid"])
                    with contextlib.suppress(AttributeError, OSError):
                        # A pidfd keeps naming this exact process even if its pid is recycled later.
                        self.init_pidfd = os.pidfd_open(self.init_pid)
            elif frame.get("type") == "hello":
                reported = dict(frame.get("isolation", {}))
                layers = executor.layers(limits)
                notes = [*reported.get("notes", []), *layers.pop("notes", [])]
                if executor.name != "local":
                    # The worker did not make namespaces because the backend did.
                    notes = [n for n in notes if not n.startswith("namespaces disabled")]
                self.isolation = Isolation.model_validate({**reported, **layers, "notes": notes})
                got_hello = True
            elif frame.get("type") == "fatal":
                raise RuntimeError(f"sandbox worker failed to start: {frame.get('error')}")

    async def _read_frame(self) -> dict[str, Any] | None:
        assert self.replies is not None
        return await read_frame(self.replies)

    async def execute(self, code: str, *, timeout: float, cpu_seconds: int) -> ExecutionResult:
        """Run one snippet; any failure of the snippet or the worker becomes a failed result."""
        assert self.proc is not None and self.requests is not None
        assert self.stdout is not None and self.stderr is not None
        started = time.perf_counter()
        nonce = f"\x00<xolver-{secrets.token_hex(12)}>\x00"
        self.stdout.begin(nonce.encode())
        self.stderr.begin(nonce.encode())
        request = encode_frame({"type": "run", "code": code, "nonce": nonce, "cpu_seconds": cpu_seconds})
        try:
            self.requests.write(request)
            await self.requests.drain()
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
        reply: Reply | None = None
        if frame is not None:
            with contextlib.suppress(ValidationError):
                reply = Reply.model_validate(frame)
        if reply is None:
            code_ = await self._exit_code()
            await self.kill()
            status, reason = describe_exit(code_)
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

    def _result(self, reply: Reply, started: float) -> ExecutionResult:
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
        if not self.executor.trusts_worker_pids:
            # bwrap --die-with-parent / the container engine take the rest down with the process we started.
            if self.proc is not None and self.proc.returncode is None:
                with contextlib.suppress(OSError):
                    self.proc.kill()
                self.executor.stop(self.proc.pid)
        elif self.init_pidfd is not None:
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
        if self.requests is not None:
            self.requests.transport.close()
            self.requests = None
        if self.reply_transport is not None:
            self.reply_transport.close()
            self.reply_transport = None
        if self.init_pidfd is not None:
            os.close(self.init_pidfd)
            self.init_pidfd = None
        self._remove_dirs()

    def _remove_dirs(self) -> None:
        for path in (self.scratch, self.ipc_dir):
            if path:
                shutil.rmtree(path, ignore_errors=True)
        self.scratch = self.ipc_dir = ""

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
        if self.proc is not None and not self.executor.trusts_worker_pids:
            self.executor.stop(self.proc.pid)
        self._remove_dirs()
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


def describe_exit(code: int | None) -> tuple[ExecutionStatus, str]:
    if code is None:
        return "crashed", "the sandbox worker stopped answering"
    if code > 128:
        with contextlib.suppress(ValueError):
            sig = signal.Signals(code - 128)
            status, reason = _SIGNAL_REASONS.get(sig, ("crashed", f"the worker died from signal {sig.name}"))
            return status, reason  # type: ignore[return-value]
    return "crashed", f"the snippet ended the interpreter (exit code {code})"
