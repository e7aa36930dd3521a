"""What a sandbox promises and reports: its limits, the isolation a worker got, and a run's result."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xolver.tools.base import ToolResult

__all__ = ["ExecutionResult", "ExecutionStatus", "Isolation", "SandboxLimits"]

ExecutionStatus = Literal["ok", "exception", "timeout", "cpu_limit", "memory", "output_limit", "crashed"]


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
        seccomp: install the syscall filter (`xolver.tools.sandbox._worker.seccomp`) on Linux.
        readable_paths: host files or directories a snippet may also read (bound read-only into the
            minimal filesystem view), for example ``("/etc/ssl",)`` or a data directory.
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
    seccomp: bool = True
    readable_paths: tuple[str, ...] = ()


class Isolation(BaseModel):
    """Which isolation layers a worker actually got, as the worker found them (see `xolver.tools.sandbox`).

    Attributes:
        user, net, ipc, mount, pid: whether that Linux namespace was created.
        filesystem: the snippet cannot write outside its fresh tmpfs (``/tmp``, ``/dev/shm``, scratch).
        view: what it can *read*: ``"minimal"`` (only the interpreter, its ``sys.path``, ``/usr`` and
            the few ``/etc`` files Python needs), ``"host-read-only"`` (the host's whole tree,
            read-only), ``"host"`` (nothing hidden, nothing read-only), ``"container"`` (the container
            image's tree) or ``"remote"`` (another machine).
        writable_mounts: mounts that should have been read-only but stayed writable.
        proc: ``"private"`` (only the worker's PID namespace), ``"hidden"`` or ``"host"``.
        capabilities: ``"dropped"`` or ``"kept"``.
        seccomp: the syscall filter is installed.
        executor: the backend that runs the worker (``"local"``, ``"bwrap"``, ``"docker"``, ...).
        notes: why a layer is missing or narrowed.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    user: bool = False
    net: bool = False
    ipc: bool = False
    mount: bool = False
    pid: bool = False
    filesystem: bool = False
    view: Literal["minimal", "host-read-only", "host", "container", "remote"] = "host"
    writable_mounts: list[str] = Field(default_factory=list)
    proc: str = "host"
    capabilities: str = "kept"
    seccomp: bool = False
    executor: str = "local"
    notes: list[str] = Field(default_factory=list)

    @property
    def full(self) -> bool:
        """Whether network, processes, filesystem reads and writes and syscalls are all confined."""
        return (
            self.user
            and self.net
            and self.pid
            and self.filesystem
            and self.view == "minimal"
            and self.proc == "private"
            and self.seccomp
        )

    def summary(self) -> str:
        """One line for logs and docs."""
        layers = [name for name in ("user", "net", "ipc", "mount", "pid") if getattr(self, name)]
        text = (
            f"executor: {self.executor}; namespaces: {', '.join(layers) or 'none'}; "
            f"filesystem: {self.view} view, {'no' if self.filesystem else 'some'} writable host mounts; "
            f"/proc: {self.proc}; capabilities: {self.capabilities}; seccomp: {'on' if self.seccomp else 'off'}"
        )
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
