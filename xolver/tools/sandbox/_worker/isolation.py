"""Isolation set-up: namespaces, a read-only filesystem with fresh tmpfs, a private /proc, hard limits.

Each step goes as far as the OS allows and records what it got (or why not) in the isolation report
the host receives (`Isolation` on the host side).
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
from typing import Any

from .libc import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    LIBC,
    MOUNT_FLAG_NAMES,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
    unshare,
)

# Paths that must stay writable (fresh tmpfs) or hidden (host sockets, e.g. a Docker socket, live there).
TMPFS_PATHS = ("/tmp", "/var/tmp", "/dev/shm", "/run")


def new_report() -> dict[str, Any]:
    """The isolation report before any step: nothing isolated yet."""
    return {
        "user": False,
        "net": False,
        "ipc": False,
        "mount": False,
        "pid": False,
        "filesystem": False,
        "view": "host",
        "writable_mounts": [],
        "proc": "host",
        "capabilities": "kept",
        "seccomp": False,
        "notes": [],
    }


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def enter_namespaces(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """Create user, network, IPC, mount and PID namespaces, each as far as the OS allows."""
    if LIBC is None or not cfg["namespaces"]:
        report["notes"].append("namespaces disabled or not on Linux")
        return
    uid, gid = os.geteuid(), os.getegid()
    try:
        unshare(CLONE_NEWUSER)
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
            unshare(flag)
            report[name] = True
        except OSError as e:
            report["notes"].append(f"{name} namespace refused ({e.strerror})")


def lock_filesystem(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """The fallback view: the host's tree with every mount read-only and fresh tmpfs on the temp dirs.

    Used only where the minimal view (`rootfs.build_root`) is refused; files stay readable.
    """
    mount(None, "/", None, MS_REC | MS_PRIVATE)
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
            mount(None, target, None, flags)
        except OSError:
            failed.append(target)
    report["view"] = "host-read-only"
    report["writable_mounts"] = failed
    if "/" in failed:
        report["notes"].append("could not make / read-only")
        return
    if failed:
        report["notes"].append(f"{len(failed)} mount(s) left writable: {', '.join(failed[:5])}")
    size = f"size={int(cfg['scratch_mb'])}m,mode=1777"
    for path in TMPFS_PATHS:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, size)
            except OSError as e:
                report["notes"].append(f"tmpfs on {path} refused ({e.strerror})")
    # True only when nothing outside the fresh tmpfs stayed writable.
    report["filesystem"] = not report["writable_mounts"]


def mount_proc(report: dict[str, Any]) -> None:
    """Show only our PID namespace in /proc; if a fresh procfs is refused, hide /proc entirely.

    ``report["proc"]`` says which: only when it is ``"private"`` does /proc list exactly our
    namespace's processes (`cleanup.kill_leftovers` relies on that).
    """
    try:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        report["proc"] = "private"
    except OSError as e:
        try:
            mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1k")
            report["proc"] = "hidden"
            report["notes"].append(f"fresh /proc refused ({e.strerror}); /proc hidden")
        except OSError:
            report["proc"] = "host"
            report["notes"].append("host /proc visible")


def apply_limits(cfg: dict[str, Any]) -> None:
    """Hard resource limits for the rest of this process's life (the per-run CPU limit is set per run)."""
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
