"""Least privilege: what a snippet can read, and which system calls it can make.

Canary files stand in for a user's secrets; every test here runs where Linux namespaces are
available and skips (saying why) where they are not.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import struct
import sys
import tempfile
import venv
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests._support.processes import our_descendants
from xolver.tools.sandbox import ExecutorName, Isolation, PythonSandbox, SandboxLimits
from xolver.tools.sandbox._worker import rootfs, seccomp

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces and seccomp are Linux")

PROJECT = Path(__file__).resolve().parents[2]
LIMITS = SandboxLimits(timeout=10, cpu_seconds=5, memory_mb=512, max_output_bytes=64_000, scratch_mb=32)
ARCH = seccomp.machine()


@pytest.fixture
async def sandbox() -> AsyncIterator[PythonSandbox]:
    sb = PythonSandbox(LIMITS, pool_size=0)
    try:
        isolation = await sb.isolation()
        if not (isolation.user and isolation.mount and isolation.pid):
            pytest.skip(f"this machine gives no namespaces: {isolation.summary()}")
        yield sb
    finally:
        await sb.aclose()
        assert our_descendants() == [], "the sandbox left processes behind"


def _canaries(home: Path, token: str) -> dict[Path, str]:
    files = {
        home / ".ssh" / "id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY----- {token}",
        home / ".aws" / "credentials": f"[default]\naws_secret_access_key = {token}",
        home / ".xolver" / "config.toml": f'api_key = "{token}"',
        home / "project" / ".env": f"OPENAI_API_KEY={token}",
        home / ".netrc": f"machine example.com password {token}",
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


@pytest.fixture
def fake_homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Path]]]:
    """Canary homes in /tmp and next to the project (a directory the sandbox partly binds)."""
    token = f"canary-{secrets.token_hex(8)}"
    in_tmp = tmp_path / "home"
    beside_project = PROJECT / f".canary-home-{secrets.token_hex(4)}"
    dotenv = PROJECT / f".env.canary-{secrets.token_hex(4)}"
    paths = [*_canaries(in_tmp, token), *_canaries(beside_project, token)]
    dotenv.write_text(f"SECRET={token}")
    paths.append(dotenv)
    monkeypatch.setenv("HOME", str(in_tmp))
    try:
        yield token, paths
    finally:
        shutil.rmtree(beside_project, ignore_errors=True)
        dotenv.unlink(missing_ok=True)


def _probe_code(paths: list[str]) -> str:
    return "\n".join(
        [
            "import json, os",
            f"paths = {paths!r}",
            "found = {}",
            "for p in paths:",
            "    try:",
            "        found[p] = sorted(os.listdir(p)) if os.path.isdir(p) else open(p).read()",
            "    except OSError as e:",
            "        found[p] = 'refused: ' + (e.strerror or '')",
            "print(json.dumps(found))",
        ]
    )


# --------------------------------------------------------------------------- what a snippet can read


async def test_canary_secrets_are_not_readable(sandbox: PythonSandbox, fake_homes: tuple[str, list[Path]]) -> None:
    token, planted = fake_homes
    targets = [str(p) for p in planted] + [str(p.parent) for p in planted]
    targets += ["/etc/shadow", "/etc/passwd", "/root", "/home", str(Path.home()), os.path.expanduser("~root")]
    targets += [str(Path("~").expanduser() / name) for name in (".ssh", ".aws", ".netrc", ".xolver")]
    result = await sandbox.run(_probe_code(targets))
    assert result.ok, result
    assert token not in result.output
    found = json.loads(result.stdout)
    for path in [*planted, Path("/etc/shadow"), Path("/root"), Path("/home")]:
        assert str(found[str(path)]).startswith("refused"), (path, found[str(path)])
    # /etc holds a two-line passwd of our own, not the host's.
    assert "root:" not in found["/etc/passwd"]


async def test_root_and_home_cannot_be_listed_even_when_python_lives_there(sandbox: PythonSandbox) -> None:
    code = "\n".join(
        [
            "import json, os, sys",
            "seen = {}",
            "for p in ('/', '/root', '/home', '/etc', os.path.dirname(sys.prefix)):",
            "    try:",
            "        seen[p] = sorted(os.listdir(p))",
            "    except OSError as e:",
            "        seen[p] = 'refused: ' + e.strerror",
            "print(json.dumps(seen))",
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    seen = json.loads(result.stdout)
    assert seen["/root"].startswith("refused") and seen["/home"].startswith("refused")
    assert set(seen["/etc"]) <= {"alternatives", "group", "ld.so.cache", "localtime", "passwd"}
    assert "home" not in seen["/"] and "lost+found" not in seen["/"] and "boot" not in seen["/"]
    if not sys.prefix.startswith(("/usr/", "/tmp/")):
        # The folders that only lead to the interpreter can be passed through, not listed.
        assert str(seen[os.path.dirname(sys.prefix)]).startswith("refused")


async def test_nothing_outside_tmpfs_is_writable(sandbox: PythonSandbox) -> None:
    code = "\n".join(
        [
            "import os, sys",
            "targets = ['/x', '/usr/x', '/etc/x', sys.prefix + '/x', '/proc/x', '/var/x']",
            "for t in targets:",
            "    try:",
            "        open(t, 'w').write('pwned')",
            "        print('wrote', t)",
            "    except OSError as e:",
            "        print('refused', t)",
            "for t in ('/root', '/etc', '/'):",
            "    try:",
            "        os.chmod(t, 0o777)",
            "        print('chmod', t)",
            "    except OSError:",
            "        print('refused chmod', t)",
            "open('/tmp/ok', 'w').write('ok'); open('/dev/shm/ok', 'w').write('ok'); open('here', 'w').write('ok')",
            "print(open('/var/tmp/ok').read())",
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    assert "wrote" not in result.stdout and "\nchmod" not in result.stdout, result.stdout
    assert result.stdout.rstrip().endswith("ok")


async def test_the_isolation_report_matches_what_snippets_find(sandbox: PythonSandbox) -> None:
    isolation = await sandbox.isolation()
    assert isolation.view == "minimal" and isolation.filesystem and isolation.writable_mounts == []
    assert isolation.seccomp and isolation.proc == "private" and isolation.capabilities == "dropped"
    assert isolation.full
    result = await sandbox.run("print(open('/proc/self/status').read())")
    status = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert status["Seccomp"].strip() == "2"  # filter mode
    assert status["NoNewPrivs"].strip() == "1"
    assert status["CapEff"].strip() == "0000000000000000"


async def test_readable_paths_adds_a_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "numbers.txt").write_text("1 2 3")
    limits = LIMITS.model_copy(update={"readable_paths": (str(data),)})
    async with PythonSandbox(limits, pool_size=0) as sb:
        if (await sb.isolation()).view != "minimal":
            pytest.skip("no minimal view here")
        result = await sb.run(f"print(open({str(data / 'numbers.txt')!r}).read())\nopen({str(data / 'w')!r}, 'w')")
    assert result.stdout == "1 2 3\n"
    assert result.status == "exception" and "Read-only" in (result.error or "")


async def test_the_interpreter_and_its_site_packages_work_inside(sandbox: PythonSandbox) -> None:
    pytest.importorskip("sympy")
    code = "\n".join(
        [
            "import sympy, subprocess, sys",
            "print(sympy.sqrt(8))",
            "print(subprocess.run([sys.executable, '-c', 'print(6*7)'], capture_output=True, text=True).stdout)",
        ]
    )
    result = await sandbox.run(code, timeout=30)
    assert result.ok, result
    assert result.stdout.split() == ["2*sqrt(2)", "42"]


@pytest.fixture
def venv_in_tmp() -> Iterator[tuple[Path, Path]]:
    """A virtualenv in /tmp (as on CI runners and tox) with a module in its site-packages and a .pth checkout.

    /tmp is exactly what the worker replaces with a private tmpfs, so this is the place a view that
    forgot to bind the interpreter would fail.
    """
    if not os.path.isdir("/tmp"):
        pytest.skip("no /tmp here")
    base = Path(tempfile.mkdtemp(prefix="xolver-venv-", dir="/tmp"))
    try:
        env = base / "venv"
        venv.EnvBuilder(symlinks=True, with_pip=False).create(env)
        site = next((env / "lib").glob("python3*/site-packages"))
        (site / "canary_site.py").write_text("VALUE = 'site'\n")
        checkout = base / "checkout"
        (checkout / "canary_pkg").mkdir(parents=True)
        (checkout / "canary_pkg" / "__init__.py").write_text("VALUE = 'checkout'\n")
        (checkout / ".env").write_text("SECRET=canary")
        (site / "canary_checkout.pth").write_text(f"{checkout}\n")
        yield env, checkout
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("executor", ["local", "bwrap"])
async def test_a_virtualenv_under_tmp_is_seen_inside(venv_in_tmp: tuple[Path, Path], executor: ExecutorName) -> None:
    if executor == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    env, checkout = venv_in_tmp
    code = "\n".join(
        [
            "import os, sys, canary_site, canary_pkg",
            "print(sys.prefix)",
            "print(canary_site.VALUE, canary_pkg.VALUE)",
            f"print(os.path.exists({str(checkout / '.env')!r}))",
            "open(os.path.join(sys.prefix, 'x'), 'w')",
        ]
    )
    sb = PythonSandbox(LIMITS, pool_size=0, python=str(env / "bin" / "python"), executor=executor)
    try:
        isolation = await sb.isolation()
        if isolation.view != "minimal":
            pytest.skip(f"no minimal view here: {isolation.summary()}")
        result = await sb.run(code, timeout=30)
    finally:
        await sb.aclose()
    assert result.stdout.splitlines() == [str(env), "site checkout", "False"], result
    # Bound read-only: the prefix is the host's, not a copy in the private /tmp.
    assert result.status == "exception" and "Read-only" in (result.error or ""), result
    assert our_descendants() == [], "the sandbox left processes behind"


def test_an_editable_checkout_on_sys_path_shows_only_importable_entries(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "pkg").mkdir(parents=True)
    (checkout / "pkg" / "__init__.py").write_text("")
    (checkout / "tool.py").write_text("")
    (checkout / "pkg.dist-info").mkdir()
    for private in (".env", ".git", "secrets", "notes.txt"):
        (checkout / private).mkdir() if private in (".git", "secrets") else (checkout / private).write_text("x")
    binds, narrowed = rootfs.plan_binds([sys.prefix], [str(checkout)], [])
    assert narrowed == [str(checkout)]
    assert {b for b in binds if b.startswith(str(checkout))} == {
        str(checkout / "pkg"),
        str(checkout / "pkg.dist-info"),
        str(checkout / "tool.py"),
    }
    assert not any(b.startswith(str(checkout) + "/") and "/." in b for b in binds)


# --------------------------------------------------------------------------- the syscall filter


def _calls_code(numbers: dict[str, int], *, filter_hex: str = "") -> str:
    """A snippet that makes each call with zero arguments and prints (return value, errno) per name."""
    return "\n".join(
        [
            "import ctypes, json",
            "libc = ctypes.CDLL(None, use_errno=True)",
            "libc.syscall.restype = ctypes.c_long",
            f"filter_hex = {filter_hex!r}",
            "if filter_hex:",
            "    raw = bytes.fromhex(filter_hex)",
            "    buf = ctypes.create_string_buffer(raw, len(raw))",
            "    class Prog(ctypes.Structure):",
            "        _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]",
            "    prog = Prog(len(raw) // 8, ctypes.addressof(buf))",
            "    assert libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(prog)), 0, 0) == 0",
            f"numbers = {numbers!r}",
            "out = {}",
            "for name, nr in numbers.items():",
            "    ctypes.set_errno(0)",
            "    rc = libc.syscall(ctypes.c_long(nr), *([ctypes.c_long(0)] * 6))",
            "    out[name] = [rc, ctypes.get_errno()]",
            "print(json.dumps(out))",
        ]
    )


@pytest.mark.skipif(ARCH is None, reason="no seccomp table for this architecture")
async def test_every_denied_call_fails_with_eperm(sandbox: PythonSandbox) -> None:
    assert ARCH is not None
    numbers = {name: nr for name, nr in seccomp.SYSCALLS[ARCH].items() if name in seccomp.DENIED}
    result = await sandbox.run(_calls_code(numbers))
    assert result.ok, result
    got = json.loads(result.stdout)
    assert {name: tuple(v) for name, v in got.items() if tuple(v) != (-1, errno.EPERM)} == {}
    # Unfiltered, these would have succeeded in the worker's user namespace.
    assert {"ptrace", "unshare", "personality", "mount"} <= set(got)


@pytest.mark.skipif(ARCH is None, reason="no seccomp table for this architecture")
async def test_the_filter_program_names_every_call(sandbox: PythonSandbox) -> None:
    """A second copy of the program, with an unusual errno, proves each number is in it (whatever the privileges)."""
    assert ARCH is not None
    marker = errno.ENOTBLK
    program = seccomp.build_program(ARCH, denied_errno=marker)
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in program)
    numbers = {name: nr for name, nr in seccomp.SYSCALLS[ARCH].items() if name in seccomp.DENIED}
    numbers["clone3"] = seccomp.SYSCALLS[ARCH]["clone3"]
    result = await sandbox.run(_calls_code(numbers, filter_hex=raw.hex()))
    assert result.ok, result
    got = {name: tuple(v) for name, v in json.loads(result.stdout).items()}
    assert got.pop("clone3") == (-1, errno.ENOSYS)
    assert {name: v for name, v in got.items() if v != (-1, marker)} == {}
    assert len(got) == len([n for n in seccomp.DENIED if n in seccomp.SYSCALLS[ARCH]])


async def test_argument_checks_and_what_stays_allowed(sandbox: PythonSandbox) -> None:
    code = "\n".join(
        [
            "import ctypes, os, socket, subprocess, threading",
            "libc = ctypes.CDLL(None, use_errno=True)",
            "def attempt(fn):",
            "    try:",
            "        fn()",
            "        return 'allowed'",
            "    except OSError as e:",
            "        return 'refused ' + (os.strerror(e.errno) if e.errno else '')",
            "def new_user_ns():",
            "    if libc.unshare(0x10000000) != 0:",
            "        raise OSError(ctypes.get_errno(), 'unshare')",
            "def raw(): socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()",
            "def packet(): socket.socket(17, socket.SOCK_DGRAM, 0).close()",
            "def tcp(): socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()",
            "def unix(): socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()",
            "def thread():",
            "    t = threading.Thread(target=lambda: None); t.start(); t.join()",
            "def child(): subprocess.run(['true'], check=True)",
            "def fork():",
            "    pid = os.fork()",
            "    if pid == 0: os._exit(0)",
            "    os.waitpid(pid, 0)",
            "for name, fn in [('unshare', new_user_ns), ('raw', raw), ('packet', packet), ('tcp', tcp),",
            "                 ('unix', unix), ('thread', thread), ('child', child), ('fork', fork)]:",
            "    print(name, attempt(fn))",
        ]
    )
    result = await sandbox.run(code)
    assert result.ok, result
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["unshare"].startswith("refused") and lines["raw"].startswith("refused")
    assert lines["packet"].startswith("refused")
    assert all(lines[name] == "allowed" for name in ("tcp", "unix", "thread", "child", "fork")), lines


async def test_seccomp_also_without_namespaces() -> None:
    limits = LIMITS.model_copy(update={"namespaces": False})
    async with PythonSandbox(limits, pool_size=0) as sb:
        isolation = await sb.isolation()
        assert not isolation.user and isolation.view == "host" and not isolation.full
        if ARCH is not None:
            assert isolation.seccomp
            code = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.unshare(0), ctypes.get_errno()"
            result = await sb.run(code)
            assert result.value == f"(-1, {errno.EPERM})"


def test_isolation_summary_says_what_is_missing() -> None:
    none = Isolation()
    assert not none.full
    assert "filesystem: host view" in none.summary() and "seccomp: off" in none.summary()
