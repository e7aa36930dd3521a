"""The ``executor=`` choice: bwrap runs where it is installed; the container and E2B backends are checked
for what they would run and refuse (no engine and no network here)."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

import pytest

from xolver.errors import UserError
from xolver.tools.sandbox import PythonSandbox, SandboxLimits
from xolver.tools.sandbox.executors import ContainerExecutor, make_executor

LIMITS = SandboxLimits(timeout=10, cpu_seconds=5, memory_mb=512, max_processes=32, scratch_mb=32)
PINNED = "python:3.11-slim@sha256:" + "0" * 64


def test_unknown_and_incomplete_choices_are_refused() -> None:
    with pytest.raises(UserError, match="unknown sandbox executor"):
        PythonSandbox(executor="vm")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="image"):
        make_executor("docker")
    with pytest.raises(UserError, match="pin the sandbox image"):
        make_executor("podman", image="python:3.11-slim")


@pytest.mark.skipif(importlib.util.find_spec("e2b_code_interpreter") is not None, reason="the E2B SDK is installed")
def test_e2b_without_its_sdk_says_how_to_install_it() -> None:
    with pytest.raises(UserError, match="pip install"):
        PythonSandbox(executor="e2b")


def test_container_command_is_locked_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    executor = ContainerExecutor("docker", PINNED)
    config = executor.configure({"host_ipc_dir": "/tmp/ipc", "host_pid": 1, "namespaces": True}, LIMITS)
    env = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "HOME": "/tmp/x"}
    argv = executor.command("python", "worker.py", config, LIMITS, env)
    joined = " ".join(argv)
    for option in ("--network none", "--read-only", "--cap-drop ALL", "no-new-privileges", "--user 65534:65534"):
        assert option in joined
    assert "--pids-limit 32" in joined and "--memory 512m" in joined and "/tmp:rw,nosuid,nodev,size=32m" in joined
    assert PINNED in argv and "/tmp/ipc:/run/xolver" in joined
    inner = json.loads(argv[-1])
    assert inner["reply_socket"] == "/run/xolver/reply.sock" and "host_ipc_dir" not in inner
    assert inner["namespaces"] is False and inner["host_pid"] == 0
    assert executor.layers(LIMITS)["net"] is True
    with_net = executor.command("python", "worker.py", config, LIMITS.model_copy(update={"network": True}), env)
    assert "none" not in with_net


@pytest.mark.skipif(shutil.which("bwrap") is None or not sys.platform.startswith("linux"), reason="needs bubblewrap")
async def test_bwrap_executor_runs_the_hostile_basics(tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    token = secrets.token_hex(8)
    secret.write_text(token)
    marker = f"xolver-bwrap-{secrets.token_hex(4)}"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    code = "\n".join(
        [
            "import os, socket, subprocess, sys",
            "for p in ('/etc/shadow', " + repr(str(secret)) + "):",
            "    try:",
            "        print(open(p).read())",
            "    except OSError as e:",
            "        print('refused', p)",
            "try:",
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)",
            "    print('connected')",
            "except OSError as e:",
            "    print('net', e.strerror)",
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(86400)', '{marker}'])",
            "print(open('/proc/self/status').read().count('Seccomp:\\t2'))",
        ]
    )
    try:
        async with PythonSandbox(LIMITS, pool_size=0, executor="bwrap") as sb:
            isolation = await sb.isolation()
            result = await sb.run(code)
            again = await sb.run("print('alive')")
    finally:
        listener.close()
    assert isolation.executor == "bwrap" and isolation.view == "minimal" and isolation.seccomp
    assert result.ok, result
    assert token not in result.output and "refused /etc/shadow" in result.stdout
    assert "connected" not in result.stdout and "net " in result.stdout  # its own network namespace
    assert result.stdout.rstrip().endswith("1")
    assert again.stdout == "alive\n"
    assert not any(marker.encode() in _cmdline(pid) for pid in os.listdir("/proc") if pid.isdigit())


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
