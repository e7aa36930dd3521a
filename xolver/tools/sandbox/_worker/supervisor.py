"""The worker's process layout: the supervisor isolates itself, forks init, and init forks the kernel."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
from typing import Any

from .cleanup import kill_leftovers
from .isolation import enter_namespaces, lock_filesystem, mount_proc, new_report
from .kernel import serve
from .libc import LIBC, MNT_DETACH, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, prctl, umount2
from .protocol import write_frame
from .rootfs import build_root, interpreter_paths


def init(cfg: dict[str, Any], req_fd: int, rep_fd: int, report: dict[str, Any], devnull: int) -> None:
    """Be PID 1 of the new PID namespace (or a subreaper without one): set up mounts, fork the kernel, reap."""
    if report["mount"]:
        _set_up_filesystem(cfg, report)
    init_pid = os.getpid()
    kernel = os.fork()
    if kernel == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != init_pid:
            os._exit(1)
        try:
            serve(cfg, req_fd, rep_fd, report)
        except BaseException as e:
            with contextlib.suppress(OSError):
                write_frame(rep_fd, {"type": "fatal", "error": f"{type(e).__name__}: {e}"})
            os._exit(70)
        os._exit(0)
    _release_fds(devnull, req_fd, rep_fd)
    os._exit(_wait_for(kernel, reap_others=True))


def _set_up_filesystem(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """The minimal view where the OS allows it, else the host's tree read-only (and say which)."""
    if cfg.get("view", "minimal") == "minimal" and report["pid"]:
        try:
            build_root(cfg, report)
            return
        except OSError as e:
            report["notes"].append(f"minimal filesystem view refused ({e.strerror or e}); host tree read-only instead")
            with contextlib.suppress(OSError):
                umount2(os.path.realpath(cfg["scratch"]), MNT_DETACH)
    try:
        lock_filesystem(cfg, report)
    except OSError as e:
        report["notes"].append(f"filesystem lock failed ({e.strerror})")
    if report["pid"]:
        mount_proc(report)


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


def _reply_channel(cfg: dict[str, Any]) -> int:
    """The fd replies go to: the inherited pipe, or (inside a container) a Unix socket the host listens on."""
    path = cfg.get("reply_socket")
    if not path:
        return int(cfg["reply_fd"])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    fd = os.dup(sock.fileno())
    sock.close()
    return fd


def main() -> None:
    """Entry point: parse the config, isolate, fork init and kernel, and supervise them."""
    cfg: dict[str, Any] = json.loads(sys.argv[1])
    cfg.update(interpreter_paths())
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Under bwrap or a container engine our parent is theirs (host_pid 0): they kill us with the host.
    if cfg["host_pid"] and os.getppid() != int(cfg["host_pid"]):
        os._exit(1)
    report = new_report()
    enter_namespaces(cfg, report)
    os.setsid()
    if LIBC is not None:
        # Orphans of the snippet come back to us, not to the host's init, so we can kill them.
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    req_fd = os.dup(0)
    rep_fd = _reply_channel(cfg)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    supervisor_pid = os.getpid()
    init_pid = os.fork()
    if init_pid == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # PID 1 of a new namespace sees its parent as 0; outside one, a changed parent means it died.
        if os.getppid() not in (supervisor_pid, 0):
            os._exit(1)
        init(cfg, req_fd, rep_fd, report, devnull)
    write_frame(rep_fd, {"type": "spawned", "init_pid": init_pid})
    _release_fds(devnull, req_fd, rep_fd)
    code = _wait_for(init_pid, reap_others=True)
    kill_leftovers(in_pid_ns=False)
    os._exit(code)
