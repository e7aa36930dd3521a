"""The process on the far side of `PythonSandbox`: sets up isolation, then runs snippets on request.

This file runs as a script (``python _sandbox_worker.py CONFIG_JSON``), never imported by xolver, and
uses only the standard library so it starts fast and does not depend on how xolver is installed.

Process layout on Linux when namespaces are available::

    host (our process)
     └─ supervisor   this script, after unshare(user, net, ipc, mount); outside the new PID namespace
         └─ kernel   forked into the new PID namespace as its PID 1; runs the snippets

Killing the kernel (PID 1) makes the kernel SIGKILL every other process of its PID namespace, which is
how nothing a snippet spawned survives a run. Where namespaces are refused, both processes are
subreapers instead, and leftovers are killed by walking the process tree in /proc.

Wire protocol: requests arrive on fd 0 (moved to a private fd at start), replies leave on the fd named
in the config; each frame is a 4-byte big-endian length and a UTF-8 JSON object. Snippet stdout and
stderr are the process's real fds 1 and 2 (pipes the host drains with a size bound); after every run
the kernel writes a per-run nonce to both, so the host knows where that run's output ends.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import resource
import signal
import struct
import sys
import time
import traceback
from typing import Any

# Linux constants (sched.h, mount.h, prctl.h); this file must not import anything outside stdlib.
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
MOUNT_FLAG_NAMES = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}
# Paths that must stay writable (fresh tmpfs) or hidden (host sockets, e.g. a Docker socket, live there).
TMPFS_PATHS = ("/tmp", "/var/tmp", "/dev/shm", "/run")
MAX_FRAME = 64 * 1024 * 1024
# Set once our own procfs is mounted: only then does /proc list exactly our namespace's processes.
PROC_IS_PRIVATE = False


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


LIBC = _libc() if sys.platform.startswith("linux") else None


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags: int) -> None:
    assert LIBC is not None
    _check(LIBC.unshare(ctypes.c_int(flags)), "unshare")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    assert LIBC is not None
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    _check(LIBC.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def _prctl(option: int, arg: int) -> None:
    if LIBC is not None:
        LIBC.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _drop_capabilities() -> None:
    """Clear every capability, so a snippet cannot undo our mounts (our uid in the namespace is not 0)."""
    assert LIBC is not None

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)
    data = (Data * 2)()
    _check(LIBC.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


# --------------------------------------------------------------------------- isolation set-up


def _enter_namespaces(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """Create user, network, IPC, mount and PID namespaces, each as far as the OS allows."""
    if LIBC is None or not cfg["namespaces"]:
        report["notes"].append("namespaces disabled or not on Linux")
        return
    uid, gid = os.geteuid(), os.getegid()
    try:
        _unshare(CLONE_NEWUSER)
    except OSError as e:
        report["notes"].append(f"user namespace refused ({e.strerror})")
        return
    # Our uid inside is never 0, so exec() of a binary cannot hand capabilities back once we drop them.
    inner_uid = uid if uid != 0 else 65534
    inner_gid = gid if gid != 0 else 65534
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{inner_uid} {uid} 1")
        _write("/proc/self/gid_map", f"{inner_gid} {gid} 1")
    except OSError as e:
        report["notes"].append(f"uid map refused ({e.strerror})")
        return
    report["user"] = True
    wanted = [("ipc", CLONE_NEWIPC), ("mount", CLONE_NEWNS), ("pid", CLONE_NEWPID)]
    if not cfg["network"]:
        wanted.insert(0, ("net", CLONE_NEWNET))
    for name, flag in wanted:
        try:
            _unshare(flag)
            report[name] = True
        except OSError as e:
            report["notes"].append(f"{name} namespace refused ({e.strerror})")


def _lock_filesystem(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """Make every mount read-only, put fresh tmpfs on the temp dirs, and a fresh /proc for our PID ns."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    failed: list[str] = []
    for line in lines:
        fields = line.split()
        target = fields[4].replace("\\040", " ")
        if target == "/proc" or target.startswith("/proc/"):
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for opt in fields[5].split(","):
            flags |= MOUNT_FLAG_NAMES.get(opt, 0)
        try:
            _mount(None, target, None, flags)
        except OSError:
            failed.append(target)
    if "/" in failed:
        report["notes"].append("could not make / read-only")
        return
    if failed:
        report["notes"].append(f"{len(failed)} mount(s) left writable: {', '.join(failed[:5])}")
    size = f"size={int(cfg['scratch_mb'])}m,mode=1777"
    for path in TMPFS_PATHS:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, size)
            except OSError as e:
                report["notes"].append(f"tmpfs on {path} refused ({e.strerror})")
    report["filesystem"] = True


def _mount_proc(report: dict[str, Any]) -> None:
    """Show only our PID namespace in /proc; if a fresh procfs is refused, hide /proc entirely."""
    try:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        report["proc"] = "private"
        global PROC_IS_PRIVATE
        PROC_IS_PRIVATE = True
    except OSError as e:
        try:
            _mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1k")
            report["proc"] = "hidden"
            report["notes"].append(f"fresh /proc refused ({e.strerror}); /proc hidden")
        except OSError:
            report["proc"] = "host"
            report["notes"].append("host /proc visible")


def _apply_limits(cfg: dict[str, Any]) -> None:
    mb = 1024 * 1024
    limits = [
        (resource.RLIMIT_AS, int(cfg["memory_mb"]) * mb),
        (resource.RLIMIT_FSIZE, int(cfg["max_file_mb"]) * mb),
        (resource.RLIMIT_NOFILE, int(cfg["max_open_files"])),
        (resource.RLIMIT_NPROC, int(cfg["max_processes"])),
        (resource.RLIMIT_CORE, 0),
    ]
    for which, value in limits:
        # Lowering a hard limit never fails on Linux; macOS refuses some (e.g. RLIMIT_AS).
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (value, value))
    used = int(time.process_time())
    hard = used + int(cfg["cpu_hard_seconds"])
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    # A write past RLIMIT_FSIZE should fail with EFBIG inside the snippet rather than kill the kernel.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


# --------------------------------------------------------------------------- process clean-up


def _children_of(pid: int) -> list[int]:
    found: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields after the last ')' do not.
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) > 1 and int(rest[1]) == pid:
            found.append(int(name))
    return found


def _kill_leftovers(in_pid_ns: bool) -> None:
    """Kill every process the snippet left running, then reap them."""
    me = os.getpid()
    if in_pid_ns:
        # Inside our own PID namespace kill(-1) reaches exactly its other processes, except init (PID 1).
        for _ in range(200):
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)
            _reap(block=False)
            if not PROC_IS_PRIVATE or not _namespace_pids(me):
                break
            time.sleep(0.005)
    else:
        # We are a subreaper, so orphaned grandchildren were re-parented to us; repeat until none are left.
        for _ in range(1000):
            kids = _children_of(me)
            if not kids:
                break
            for pid in kids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            _reap(block=True)
    _reap(block=False)


def _namespace_pids(me: int) -> list[int]:
    """Live processes of our PID namespace other than init and us (empty when /proc is not ours)."""
    pids: list[int] = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return pids
    for name in names:
        if name.isdigit() and int(name) not in (1, me):
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state not in (b"Z", b"X"):
                pids.append(int(name))
    return pids


def _reap(*, block: bool) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return


# --------------------------------------------------------------------------- wire protocol


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        try:
            chunk = os.read(fd, n)
        except InterruptedError:
            continue
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> dict[str, Any] | None:
    head = _read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_FRAME:
        return None
    body = _read_exact(fd, size)
    if body is None:
        return None
    value = json.loads(body)
    return value if isinstance(value, dict) else None


def _write_frame(fd: int, value: dict[str, Any]) -> None:
    body = json.dumps(value).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        n = os.write(fd, data)
        data = data[n:]


class _BoundedStream:
    """A text stream that forwards to a file descriptor until a byte budget is spent, then drops.

    Keeps a runaway ``print`` loop cheap: the host only ever has to drain ``limit`` bytes.
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.limit = limit
        self.written = 0
        self.dropped = 0
        self.encoding = "utf-8"
        self.errors = "replace"

    def reset(self) -> None:
        self.written = 0
        self.dropped = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self.limit - self.written
        if room <= 0:
            self.dropped += len(text)
            return len(text)
        data = text.encode("utf-8", "replace")
        if len(data) > room:
            self.dropped += len(data) - room
            data = data[:room]
        self.written += len(data)
        while data:
            try:
                n = os.write(self.fd, data)
            except InterruptedError:
                continue
            data = data[n:]
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.fd

    def writable(self) -> bool:
        return True


# --------------------------------------------------------------------------- the kernel


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the snippet's frames only (ours are noise for the agent)."""
    frames = traceback.extract_tb(exc.__traceback__)
    kept = [fr for fr in frames if fr.filename == "<snippet>"] or frames[-1:]
    lines = traceback.format_list(kept)
    return "Traceback (most recent call last):\n" + "".join(lines) + "".join(traceback.format_exception_only(exc))


def _run_snippet(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    try:
        tree = ast.parse(code, "<snippet>", "exec")
    except SyntaxError as e:
        return {"status": "exception", "error": "".join(traceback.format_exception_only(e)).strip()}
    last: ast.Expr | None = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body[-1]
        tree.body.pop()
    try:
        exec(compile(tree, "<snippet>", "exec"), namespace)
        value = None
        if last is not None:
            result = eval(compile(ast.Expression(last.value), "<snippet>", "eval"), namespace)
            if result is not None:
                value = repr(result)[:100_000]
        return {"status": "ok", "value": value}
    except SystemExit as e:
        return {"status": "ok", "value": None, "exit_code": e.code if isinstance(e.code, int) else 1}
    except MemoryError:
        return {"status": "memory", "error": "MemoryError: the snippet ran out of its memory limit"}
    except RecursionError as e:
        return {"status": "exception", "error": _user_traceback(e)}
    except BaseException as e:
        return {"status": "exception", "error": _user_traceback(e)}


def _kernel(cfg: dict[str, Any], req_fd: int, rep_fd: int, report: dict[str, Any]) -> None:
    in_pid_ns = bool(report.get("pid"))
    if not in_pid_ns and LIBC is not None:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    scratch = cfg["scratch"]
    if report.get("filesystem"):
        os.makedirs(scratch, exist_ok=True)
    os.chdir(scratch)
    if report.get("user"):
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        try:
            _drop_capabilities()
            report["capabilities"] = "dropped"
        except OSError as e:
            report["notes"].append(f"could not drop capabilities ({e.strerror})")
    _apply_limits(cfg)
    limit = int(cfg["max_output_bytes"])
    out = _BoundedStream(1, limit)
    err = _BoundedStream(2, limit)
    sys.stdout = out
    sys.stderr = err
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the kernel
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    kernel_pid = os.getpid()
    report["kernel_pid_in_ns"] = kernel_pid
    _write_frame(rep_fd, {"type": "hello", "isolation": report})
    while True:
        req = _read_frame(req_fd)
        if req is None or req.get("type") != "run":
            return
        out.reset()
        err.reset()
        used = int(time.process_time())
        try:
            soft = used + max(1, int(req.get("cpu_seconds", 10)))
            hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        except (ValueError, OSError):
            pass
        started = time.perf_counter()
        reply = _run_snippet(str(req.get("code", "")), namespace)
        if os.getpid() != kernel_pid:
            # A child forked by the snippet finished the snippet: it must never touch the protocol.
            os._exit(0)
        reply["seconds"] = time.perf_counter() - started
        reply["stdout_dropped"] = out.dropped
        reply["stderr_dropped"] = err.dropped
        _kill_leftovers(in_pid_ns)
        nonce = str(req.get("nonce", "")).encode()
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.write(fd, nonce)
        reply["type"] = "result"
        _write_frame(rep_fd, reply)


def _init(cfg: dict[str, Any], req_fd: int, rep_fd: int, report: dict[str, Any], devnull: int) -> None:
    """Be PID 1 of the new PID namespace (or a subreaper without one): set up mounts, fork the kernel, reap."""
    if report["mount"]:
        try:
            _lock_filesystem(cfg, report)
        except OSError as e:
            report["notes"].append(f"filesystem lock failed ({e.strerror})")
        if report["pid"]:
            _mount_proc(report)
    init_pid = os.getpid()
    kernel = os.fork()
    if kernel == 0:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != init_pid:
            os._exit(1)
        try:
            _kernel(cfg, req_fd, rep_fd, report)
        except BaseException as e:
            with contextlib.suppress(OSError):
                _write_frame(rep_fd, {"type": "fatal", "error": f"{type(e).__name__}: {e}"})
            os._exit(70)
        os._exit(0)
    _release_fds(devnull, req_fd, rep_fd)
    os._exit(_wait_for(kernel, reap_others=True))


def _release_fds(devnull: int, *fds: int) -> None:
    """Drop our copies of the pipes, so the host sees EOF as soon as the kernel is gone."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    for fd in (1, 2):
        os.dup2(devnull, fd)


def _wait_for(child: int, *, reap_others: bool) -> int:
    """Wait for `child` (reaping orphans meanwhile) and return an exit code that encodes how it ended."""
    while True:
        try:
            pid, status = os.waitpid(-1 if reap_others else child, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1
        if pid == child:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


def main() -> None:
    """Entry point: parse the config, isolate, fork init and kernel, and supervise them."""
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        # Our own folder must not shadow modules the snippet imports (e.g. `import base`).
        del sys.path[0]
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(cfg["host_pid"]):
        os._exit(1)
    report: dict[str, Any] = {
        "user": False,
        "net": False,
        "ipc": False,
        "mount": False,
        "pid": False,
        "filesystem": False,
        "proc": "host",
        "capabilities": "kept",
        "notes": [],
    }
    _enter_namespaces(cfg, report)
    os.setsid()
    if LIBC is not None:
        # Orphans of the snippet come back to us, not to the host's init, so we can kill them.
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    req_fd = os.dup(0)
    rep_fd = int(cfg["reply_fd"])
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    supervisor_pid = os.getpid()
    init = os.fork()
    if init == 0:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # PID 1 of a new namespace sees its parent as 0; outside one, a changed parent means it died.
        if os.getppid() not in (supervisor_pid, 0):
            os._exit(1)
        _init(cfg, req_fd, rep_fd, report, devnull)
    _write_frame(rep_fd, {"type": "spawned", "init_pid": init})
    _release_fds(devnull, req_fd, rep_fd)
    code = _wait_for(init, reap_others=True)
    _kill_leftovers(in_pid_ns=False)
    os._exit(code)


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
