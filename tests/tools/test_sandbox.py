"""The Python sandbox against hostile snippets, plus sessions, the pool and the sync helper."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests._support.processes import our_descendants
from xolver.errors import UserError
from xolver.tools.sandbox import ExecutionResult, PythonSandbox, SandboxLimits, run_python

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the sandbox needs POSIX")

PROJECT = Path(__file__).resolve().parents[2]
LIMITS = SandboxLimits(timeout=5, cpu_seconds=2, memory_mb=512, max_processes=32, max_output_bytes=4096, scratch_mb=32)


SLEEPER = "import time; time.sleep(86400)"


def _count_inside(marker: str) -> list[str]:
    """Snippet lines that wait until the processes carrying `marker` run, and print how many do."""
    return [
        "import time as _t",
        "for _ in range(100):",
        "    _n = 0",
        "    for _p in os.listdir('/proc'):",
        "        try:",
        f"            _n += _p.isdigit() and b'{marker}' in open('/proc/' + _p + '/cmdline', 'rb').read()",
        "        except OSError:",
        "            pass",
        "    if _n >= 2:",
        "        break",
        "    _t.sleep(0.02)",
        "print('inside', _n)",
    ]


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(name))
    return found


@pytest.fixture
async def sandbox() -> AsyncIterator[PythonSandbox]:
    sb = PythonSandbox(LIMITS, pool_size=1)
    try:
        yield sb
    finally:
        await sb.aclose()
        assert _processes_with("_worker_main.py") == [] or not our_descendants()
        assert our_descendants() == [], "the sandbox left processes behind"


async def _healthy(sb: PythonSandbox) -> None:
    """The host still works and the sandbox still runs code."""
    result = await sb.run("print('alive')")
    assert result.ok and result.stdout == "alive\n"


def _failed(result: ExecutionResult, *statuses: str) -> None:
    assert not result.ok, result
    assert result.status in statuses, result
    assert result.error, "a failed run must say why"


# --------------------------------------------------------------------------- basics


async def test_output_value_and_exception(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("print('hi')\n6 * 7")
    assert result.ok and result.status == "ok"
    assert result.stdout == "hi\n" and result.value == "42"
    assert result.output == "hi\n42"

    result = await sandbox.run("1 / 0")
    _failed(result, "exception")
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.traceback is not None and '<snippet>", line 1' in result.traceback

    result = await sandbox.run("def f(:\n  pass")
    _failed(result, "exception")
    assert "SyntaxError" in (result.error or "")


async def test_stderr_and_exit(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("import sys; sys.stderr.write('warn\\n'); print('out')")
    assert result.ok and result.stderr == "warn\n" and result.stdout == "out\n"
    result = await sandbox.run("import os; os._exit(3)")
    _failed(result, "crashed")
    assert "exit code 3" in (result.error or "")
    await _healthy(sandbox)


async def test_numpy_and_sympy_inside() -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("sympy")
    async with PythonSandbox(pool_size=0) as sb:
        result = await sb.run("import numpy as np, sympy as sp\nprint(int(np.arange(5).sum()))\nsp.sqrt(8)", timeout=30)
    assert result.ok, result
    assert result.stdout == "10\n" and result.value == "2*sqrt(2)"


async def test_isolation_report(sandbox: PythonSandbox) -> None:
    isolation = await sandbox.isolation()
    assert isinstance(isolation.summary(), str)
    if os.uname().sysname == "Linux" and isolation.user:
        assert isolation.pid and isolation.net and isolation.mount


# --------------------------------------------------------------------------- hostile snippets


@pytest.mark.slow  # sandbox stress: seconds of CPU or timeouts by design
async def test_fork_bomb(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("import os\nwhile True:\n    os.fork()", timeout=3)
    _failed(result, "exception", "timeout", "crashed")
    await _healthy(sandbox)


@pytest.mark.slow  # sandbox stress: seconds of CPU or timeouts by design
async def test_memory_bomb(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))")
    _failed(result, "memory", "crashed")
    result = await sandbox.run("x = bytearray(4 * 1024 ** 3)")
    _failed(result, "memory")
    await _healthy(sandbox)


@pytest.mark.slow  # sandbox stress: seconds of CPU or timeouts by design
async def test_infinite_loop_hits_cpu_limit(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("while True:\n    pass")
    _failed(result, "cpu_limit", "timeout")


@pytest.mark.slow  # sandbox stress: seconds of CPU or timeouts by design
async def test_recursion_bomb(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("def f(n):\n    return f(n + 1)\nf(0)")
    _failed(result, "exception")
    assert "RecursionError" in (result.error or "")
    result = await sandbox.run("import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)")
    _failed(result, "crashed", "memory", "exception", "timeout", "cpu_limit")
    await _healthy(sandbox)


async def test_one_gigabyte_of_output(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * 2**20)\nprint('done')")
    assert result.ok and result.truncated
    assert len(result.stdout) < 2 * LIMITS.max_output_bytes
    assert "more bytes of stdout dropped" in result.stdout

    # Bypassing sys.stdout (raw fd writes, as a C extension or a child process would) is stopped.
    result = await sandbox.run("import os\nfor _ in range(1024):\n    os.write(1, b'y' * 2**20)")
    _failed(result, "output_limit")
    assert len(result.stdout) <= LIMITS.max_output_bytes
    await _healthy(sandbox)


async def test_writes_outside_scratch_do_not_reach_the_host(sandbox: PythonSandbox) -> None:
    name = f"xolver-escape-{secrets.token_hex(6)}"
    targets = [Path.home() / name, Path("/tmp") / name, PROJECT / name, Path("/var/tmp") / name]
    code = "\n".join(
        [
            "import os",
            f"targets = {[str(t) for t in targets]!r}",
            "for t in targets:",
            "    try:",
            "        with open(t, 'w') as f:",
            "            f.write('pwned')",
            "        print('wrote', t)",
            "    except OSError as e:",
            "        print('refused', t, e.strerror)",
            "open('inside.txt', 'w').write('ok')",
            "print(os.getcwd(), open('inside.txt').read())",
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    assert "ok" in result.stdout  # the scratch dir is writable
    for target in targets:
        assert not target.exists(), f"the snippet wrote {target} on the host"


async def test_environment_secrets_are_not_visible(sandbox: PythonSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"sk-test-{secrets.token_hex(8)}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = "\n".join(
        [
            "import os, glob",
            "print(sorted(os.environ))",
            "print(os.environ.get('OPENAI_API_KEY'))",
            "for path in glob.glob('/proc/*/environ'):",
            "    try:",
            "        print(open(path, 'rb').read())",
            "    except OSError:",
            "        pass",
            "import subprocess",
            "print(subprocess.run(['env'], capture_output=True, text=True).stdout)",
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    assert secret not in result.output
    assert "OPENAI_API_KEY" not in result.output


def test_secret_looking_extra_env_is_refused() -> None:
    with pytest.raises(UserError, match="secret"):
        PythonSandbox(extra_env={"MY_API_KEY": "x"})


async def test_socket_to_a_local_listener_fails(sandbox: PythonSandbox) -> None:
    isolation = await sandbox.isolation()
    if not isolation.net:
        pytest.skip(f"this OS did not allow a network namespace: {isolation.summary()}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')"
        result = await sandbox.run(code)
        _failed(result, "exception")
        assert "connected" not in result.stdout
        assert "unreachable" in (result.error or "").lower() or "refused" in (result.error or "").lower()
    finally:
        listener.close()


async def test_killing_the_parent_or_the_host(sandbox: PythonSandbox) -> None:
    host = os.getpid()
    code = "\n".join(
        [
            "import os, signal",
            "for pid in (os.getppid(), " + str(host) + "):",
            "    try:",
            "        os.kill(pid, signal.SIGKILL)",
            "        print('sent', pid)",
            "    except OSError as e:",
            "        print('refused', pid, e.strerror)",
        ]
    )
    result = await sandbox.run(code)
    # Our process is alive (this line runs) and the sandbox still works.
    assert result.status in ("ok", "crashed")
    assert os.getpid() == host
    await _healthy(sandbox)


async def test_os_system_and_subprocess_escapes(sandbox: PythonSandbox) -> None:
    name = f"xolver-escape-{secrets.token_hex(6)}"
    marker = f"xolver-marker-{secrets.token_hex(4)}"
    code = "\n".join(
        [
            "import os, subprocess, sys",
            f"os.system('echo pwned > {PROJECT / name}; echo pwned > /tmp/{name}')",
            f"subprocess.Popen([sys.executable, '-c', {SLEEPER!r}, '{marker}'])",
            f"os.system(sys.executable + ' -c \"{SLEEPER}\" {marker} &')",
            "print(subprocess.run(['id', '-u'], capture_output=True, text=True).stdout)",
            *_count_inside(marker),
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    assert "inside 2" in result.stdout, result.stdout  # both sleepers ran, then were killed
    assert not (PROJECT / name).exists() and not Path(f"/tmp/{name}").exists()
    assert _processes_with(marker) == []


async def test_daemon_does_not_outlive_the_snippet(sandbox: PythonSandbox) -> None:
    marker = f"xolver-daemon-{secrets.token_hex(4)}"
    code = "\n".join(
        [
            "import os, sys, time",
            "if os.fork() == 0:",
            "    os.setsid()",
            "    if os.fork() == 0:",
            f"        os.execv(sys.executable, [sys.executable, '-c', {SLEEPER!r}, '{marker}'])",
            "    os._exit(0)",
            *_count_inside(marker),
            "print('parent done')",
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    assert "inside 1" in result.stdout, result.stdout
    assert _processes_with(marker) == []


@pytest.mark.slow  # sandbox stress: seconds of CPU or timeouts by design
async def test_sleep_forever_in_a_c_call(sandbox: PythonSandbox) -> None:
    result = await sandbox.run("import time\ntime.sleep(10**6)", timeout=1)
    _failed(result, "timeout")
    assert "timed out" in (result.error or "")
    await _healthy(sandbox)


# --------------------------------------------------------------------------- sessions and pool


async def test_session_keeps_state_and_restarts_after_a_timeout(sandbox: PythonSandbox) -> None:
    async with sandbox.session() as session:
        assert (await session.run("import math\nx = 41")).ok
        assert (await session.run("x + 1")).value == "42"
        assert (await session.run("math.factorial(5)")).value == "120"
        assert (await session.run("open('notes.txt', 'w').write('kept')")).ok
        assert (await session.run("open('notes.txt').read()")).value == "'kept'"

        result = await session.run("import time\ntime.sleep(100)", timeout=1)
        _failed(result, "timeout")
        assert "restarted" in (result.error or "")
        assert session.restarts == 1

        result = await session.run("x")
        _failed(result, "exception")
        assert "NameError" in (result.error or "")
        assert (await session.run("y = 2\ny * 21")).value == "42"


async def test_session_kills_what_each_call_spawned(sandbox: PythonSandbox) -> None:
    marker = f"xolver-session-{secrets.token_hex(4)}"
    async with sandbox.session() as session:
        result = await session.run(
            f"import subprocess, sys\np = subprocess.Popen([sys.executable, '-c', {SLEEPER!r}, '{marker}'])"
        )
        assert result.ok, result
        assert _processes_with(marker) == []
        assert (await session.run("p.poll() is not None")).value == "True"


async def test_session_survives_a_crash(sandbox: PythonSandbox) -> None:
    async with sandbox.session() as session:
        await session.run("a = 1")
        result = await session.run("import os\nos._exit(1)")
        _failed(result, "crashed")
        assert session.restarts == 1
        assert (await session.run("1 + 1")).value == "2"
    with pytest.raises(UserError):
        await session.run("1")


async def test_pool_serves_concurrent_runs_with_fresh_state() -> None:
    async with PythonSandbox(LIMITS, pool_size=2) as sb:
        results = await asyncio.gather(*(sb.run(f"v = {i}\nprint(v * 2)") for i in range(6)))
        assert [r.stdout for r in results] == [f"{i * 2}\n" for i in range(6)]
        assert (await sb.run("v")).status == "exception"  # nothing carries over between runs
    assert our_descendants() == []


def test_run_python_sync() -> None:
    result = run_python("print(sum(range(10)))", timeout=10)
    assert result.ok and result.stdout == "45\n"
    assert our_descendants() == []


async def test_run_python_refuses_a_running_loop() -> None:
    with pytest.raises(UserError, match="await"):
        run_python("1")


LEFT_OPEN = """
import asyncio, sys
sys.path.insert(0, ".")
from tests._support.processes import our_descendants
from xolver.tools.sandbox import PythonSandbox

async def main(yields):
    sandbox = PythonSandbox(pool_size=1)
    result = await sandbox.run("print(6 * 7)")
    assert result.output.strip() == "42", result
    for _ in range(yields):  # stop at a different step of the pool's refill each time
        await asyncio.sleep(0)

for yields in range(12):
    asyncio.run(main(yields))  # never closed: the loop cancels the refill that was starting a worker
print("ended", len(our_descendants()))
"""


def test_a_program_that_leaves_a_sandbox_open_still_ends_and_leaves_no_worker(tmp_path: Path) -> None:
    """A refill cancelled while it starts a worker used to hang `asyncio.run`'s shutdown forever."""
    import subprocess
    import sys

    script = tmp_path / "left_open.py"
    script.write_text(LEFT_OPEN)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, cwd=PROJECT)
    # "ended 0": every run returned, and no worker outlived the loop that started it.
    assert done.returncode == 0 and done.stdout.strip() == "ended 0", done.stdout + done.stderr[-2000:]
