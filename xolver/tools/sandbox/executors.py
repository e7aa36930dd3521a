"""Executor backends: where a sandbox worker runs, behind the same `PythonSandbox` API.

* ``local`` (the default): the worker process isolates itself (Linux namespaces, the minimal
  filesystem view, seccomp, limits; see `xolver.tools.sandbox`).
* ``bwrap``: bubblewrap builds the namespaces and the read-only view (the same binds ``local``
  computes); the worker adds seccomp and limits. For hosts where unprivileged user namespaces are
  off but a setuid ``bwrap`` is installed, and as a second, separately maintained implementation.
* ``docker`` / ``podman``: one container per worker from an image pinned by digest, with
  ``--network none``, a read-only root, ``--cap-drop ALL``, ``no-new-privileges``, pid and memory
  limits and a tmpfs ``/tmp``. The image must hold a Python with the libraries snippets need.
* ``e2b``: a remote microVM through the ``e2b-code-interpreter`` SDK (``E2B_API_KEY`` in our
  environment, never in the snippet's). Nothing runs on this machine.

Only ``local`` runs in the test suite everywhere; ``bwrap`` runs where it is installed; the
container and E2B backends are not run by the tests here (no engine, no network).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from xolver.errors import UserError
from xolver.tools.sandbox._worker import rootfs
from xolver.tools.sandbox.limits import ExecutionResult, SandboxLimits

__all__ = [
    "BwrapExecutor",
    "ContainerExecutor",
    "E2BExecutor",
    "Executor",
    "ExecutorName",
    "LocalExecutor",
    "make_executor",
]

ExecutorName = Literal["local", "bwrap", "docker", "podman", "e2b"]
SANDBOX_DIR = str(Path(__file__).parent)
CONTAINER_SANDBOX_DIR = "/opt/xolver-sandbox"
CONTAINER_IPC_DIR = "/run/xolver"
CONTAINER_SCRATCH = "/tmp/xolver-scratch"


class Executor:
    """A way to start a worker process: its command line, config changes and isolation it adds."""

    name: str = "local"
    #: Replies come over a Unix socket instead of an inherited pipe (the pipe cannot cross a container).
    reply_socket: bool = False
    #: Pids the worker reports are ours to signal (False when it runs in a PID namespace not made by it).
    trusts_worker_pids: bool = True
    #: Runs snippets somewhere else entirely (`run` and `session_run` instead of a worker process).
    remote: bool = False

    async def prepare(self, python: str) -> None:
        """Probe what the backend needs (once per sandbox)."""

    def command(
        self, python: str, script: str, config: dict[str, Any], limits: SandboxLimits, env: Mapping[str, str]
    ) -> list[str]:
        """The argv that starts the worker."""
        return [python, script, json.dumps(config)]

    def configure(self, config: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        """The worker's config, adjusted for this backend."""
        return config

    def layers(self, limits: SandboxLimits) -> dict[str, Any]:
        """Isolation this backend itself guarantees, laid over what the worker reports."""
        return {"executor": self.name}

    def started(self, host_pid: int) -> None:
        """The worker's host-side process is `host_pid`."""

    def stop(self, host_pid: int) -> None:
        """Extra clean-up when a worker is killed (after its host-side process got SIGKILL)."""


class LocalExecutor(Executor):
    """The worker isolates itself; see `xolver.tools.sandbox`."""


async def _interpreter_paths(python: str) -> dict[str, Any]:
    """The prefixes and ``sys.path`` of `python` when run as a worker is (scrubbed environment)."""
    code = (
        "import json, os, sys\n"
        "p = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}\n"
        "p.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))\n"
        "print(json.dumps({'prefixes': sorted(p), 'sys_path': [x for x in sys.path[1:] if x]}))\n"
    )
    # A thread, not asyncio's subprocess support: see `Child` in _process.py for the hang on cancellation.
    done = await asyncio.to_thread(
        subprocess.run,
        [python, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONNOUSERSITE": "1"},
        timeout=60,
        check=False,
    )
    value: dict[str, Any] = json.loads(done.stdout)
    return value


class BwrapExecutor(Executor):
    """The worker inside bubblewrap, which creates the namespaces and the minimal view."""

    name = "bwrap"
    trusts_worker_pids = False

    def __init__(self, bwrap: str = "bwrap") -> None:
        """Use the ``bwrap`` binary `bwrap` (a name on PATH or a path)."""
        found = shutil.which(bwrap)
        if found is None:
            raise UserError(f"executor 'bwrap' needs bubblewrap: {bwrap!r} is not on PATH (apt-get install bubblewrap)")
        self.bwrap = found
        self._paths: dict[str, Any] | None = None

    async def prepare(self, python: str) -> None:
        if self._paths is None:
            self._paths = await _interpreter_paths(python)

    def configure(self, config: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        # bwrap made the namespaces; the worker adds seccomp and limits and makes its scratch dir.
        return {**config, "namespaces": False, "make_scratch": True, "host_pid": 0}

    def command(
        self, python: str, script: str, config: dict[str, Any], limits: SandboxLimits, env: Mapping[str, str]
    ) -> list[str]:
        assert self._paths is not None, "prepare() first"
        binds, _ = rootfs.plan_binds(self._paths["prefixes"], self._paths["sys_path"], list(limits.readable_paths))
        inner = 65534 if os.geteuid() == 0 else os.geteuid()
        inner_gid = 65534 if os.getegid() == 0 else os.getegid()
        argv = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-user", "--unshare-ipc"]
        argv += ["--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not limits.network:
            argv.append("--unshare-net")
        argv += ["--cap-drop", "ALL", "--uid", str(inner), "--gid", str(inner_gid)]
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.scratch_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        argv += ["--dir", "/var", "--symlink", "../tmp", "/var/tmp"]
        for name in rootfs.TOP_LINKS:
            if os.path.islink("/" + name):
                argv += ["--symlink", os.readlink("/" + name), "/" + name]
        for path in [*binds, SANDBOX_DIR]:
            argv += ["--ro-bind", path, path]
        for path in rootfs.ETC_FILES:
            argv += ["--ro-bind-try", path, path]
        return [*argv, python, script, json.dumps(config)]

    def layers(self, limits: SandboxLimits) -> dict[str, Any]:
        return {
            "executor": self.name,
            "user": True,
            "net": not limits.network,
            "ipc": True,
            "mount": True,
            "pid": True,
            "filesystem": True,
            "view": "minimal",
            "proc": "private",
            "capabilities": "dropped",
        }


class ContainerExecutor(Executor):
    """One ``docker run`` / ``podman run`` container per worker, from an image pinned by digest."""

    reply_socket = True
    trusts_worker_pids = False

    def __init__(
        self,
        engine: Literal["docker", "podman"],
        image: str,
        *,
        python: str = "python3",
        allow_unpinned: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """Configure the container backend.

        Args:
            engine: ``"docker"`` or ``"podman"`` (found on PATH when a worker starts).
            image: the image, pinned by digest (``python:3.11-slim@sha256:...``).
            python: the interpreter inside the image.
            allow_unpinned: accept a tag without a digest (it can change under you).
            extra_args: more ``run`` options, e.g. ``("--runtime", "runsc")`` for gVisor.

        Raises:
            UserError: for an image without a digest (unless allowed).
        """
        if "@sha256:" not in image and not allow_unpinned:
            raise UserError(f"pin the sandbox image by digest (name@sha256:...), got {image!r}")
        self.name = engine
        self.engine = engine
        self.image = image
        self.python = python
        self.extra_args = extra_args
        self._names: dict[int, str] = {}

    def configure(self, config: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        return {
            **config,
            "namespaces": False,
            "make_scratch": True,
            "host_pid": 0,
            "scratch": CONTAINER_SCRATCH,
            "reply_socket": f"{CONTAINER_IPC_DIR}/reply.sock",
            "readable_paths": [],
        }

    def command(
        self, python: str, script: str, config: dict[str, Any], limits: SandboxLimits, env: Mapping[str, str]
    ) -> list[str]:
        engine = shutil.which(self.engine)
        if engine is None:
            raise UserError(f"executor {self.engine!r}: {self.engine} is not on PATH")
        name = f"xolver-sandbox-{os.getpid()}-{time.monotonic_ns()}"
        argv = [engine, "run", "--rm", "-i", "--name", name, "--read-only", "--cap-drop", "ALL"]
        argv += ["--security-opt", "no-new-privileges", "--user", "65534:65534", "--workdir", "/tmp"]
        argv += ["--pids-limit", str(limits.max_processes), "--memory", f"{limits.memory_mb}m"]
        argv += ["--tmpfs", f"/tmp:rw,nosuid,nodev,size={limits.scratch_mb}m"]
        if not limits.network:
            argv += ["--network", "none"]
        argv += [
            "-v",
            f"{SANDBOX_DIR}:{CONTAINER_SANDBOX_DIR}:ro",
            "-v",
            f"{config['host_ipc_dir']}:{CONTAINER_IPC_DIR}",
        ]
        for key, value in env.items():
            if key not in ("PATH", "HOME", "TMPDIR"):
                argv += ["-e", f"{key}={value}"]
        argv += ["-e", f"HOME={CONTAINER_SCRATCH}", "-e", f"TMPDIR={CONTAINER_SCRATCH}", *self.extra_args]
        inner = {k: v for k, v in config.items() if k != "host_ipc_dir"}
        self._pending = name
        return [*argv, self.image, self.python, f"{CONTAINER_SANDBOX_DIR}/_worker_main.py", json.dumps(inner)]

    def started(self, host_pid: int) -> None:
        # Which container the client process `host_pid` runs.
        self._names[host_pid] = self._pending

    def stop(self, host_pid: int) -> None:
        name = self._names.pop(host_pid, None)
        if name is not None:
            with contextlib.suppress(OSError):
                subprocess.Popen([self.engine, "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def layers(self, limits: SandboxLimits) -> dict[str, Any]:
        return {
            "executor": self.name,
            "net": not limits.network,
            "ipc": True,
            "mount": True,
            "pid": True,
            "filesystem": True,
            "view": "container",
            "proc": "private",
            "capabilities": "dropped",
        }


class E2BExecutor(Executor):
    """Snippets run in a remote E2B sandbox (a Firecracker microVM) through its SDK."""

    name = "e2b"
    remote = True

    def __init__(self, *, template: str | None = None, api_key: str | None = None) -> None:
        """Check the SDK is installed; `api_key` defaults to ``E2B_API_KEY`` in our environment."""
        try:
            import e2b_code_interpreter  # noqa: F401
        except ImportError as e:
            raise UserError("executor 'e2b' needs the SDK: pip install 'xolver[e2b]'") from e
        self.template = template
        self.api_key = api_key

    async def open(self) -> Any:
        """A new remote sandbox."""
        from e2b_code_interpreter import AsyncSandbox

        options: dict[str, Any] = {}
        if self.template:
            options["template"] = self.template
        if self.api_key:
            options["api_key"] = self.api_key
        return await AsyncSandbox.create(**options)

    async def execute(self, box: Any, code: str, *, timeout: float, limits: SandboxLimits) -> ExecutionResult:
        """Run `code` in the remote sandbox `box` and map its execution to our result."""
        started = time.perf_counter()
        try:
            execution = await box.run_code(code, timeout=timeout)
        except Exception as e:  # the SDK raises its own timeout and transport errors
            reason = f"the remote sandbox failed: {type(e).__name__}: {e}"
            return ExecutionResult(
                ok=False,
                output=f"[sandbox] {reason}",
                error=reason,
                seconds=time.perf_counter() - started,
                status="timeout" if "timeout" in type(e).__name__.lower() else "crashed",
            )
        cap = limits.max_output_bytes
        stdout = "".join(execution.logs.stdout)
        stderr = "".join(execution.logs.stderr)
        truncated = len(stdout) > cap or len(stderr) > cap
        stdout, stderr = stdout[:cap], stderr[:cap]
        value = execution.text
        error = trace = None
        if execution.error is not None:
            trace = str(execution.error.traceback or "")
            error = f"{execution.error.name}: {execution.error.value}"
        parts = [p.rstrip("\n") for p in (stdout, stderr and f"[stderr]\n{stderr}", value, trace) if p]
        return ExecutionResult(
            ok=error is None,
            output="\n".join(parts),
            error=error,
            seconds=time.perf_counter() - started,
            status="ok" if error is None else "exception",
            stdout=stdout,
            stderr=stderr,
            value=value,
            traceback=trace,
            truncated=truncated,
        )

    async def close(self, box: Any) -> None:
        with contextlib.suppress(Exception):
            await box.kill()

    def layers(self, limits: SandboxLimits) -> dict[str, Any]:
        return {"executor": self.name, "view": "remote", "filesystem": True, "notes": ["remote E2B microVM"]}


def make_executor(executor: ExecutorName | Executor, **options: Any) -> Executor:
    """The backend for an ``executor=`` choice (options go to its constructor)."""
    if isinstance(executor, Executor):
        return executor
    if executor == "local":
        return LocalExecutor()
    if executor == "bwrap":
        return BwrapExecutor(**options)
    if executor in ("docker", "podman"):
        if "image" not in options:
            raise UserError(f"executor {executor!r} needs image='name@sha256:...'")
        return ContainerExecutor(executor, **options)
    if executor == "e2b":
        return E2BExecutor(**options)
    raise UserError(f"unknown sandbox executor {executor!r}; choose local, bwrap, docker, podman or e2b")
