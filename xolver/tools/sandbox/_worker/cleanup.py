"""Killing and reaping every process a snippet left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import time


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


def kill_leftovers(in_pid_ns: bool, *, proc_private: bool = False) -> None:
    """Kill every process the snippet left running, then reap them.

    Args:
        in_pid_ns: we are inside our own PID namespace.
        proc_private: /proc is our namespace's own procfs, so it can confirm that nobody is left.
    """
    me = os.getpid()
    if in_pid_ns:
        # Inside our own PID namespace kill(-1) reaches exactly its other processes, except init (PID 1).
        for _ in range(200):
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)
            reap(block=False)
            if not proc_private or not _namespace_pids(me):
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
            reap(block=True)
    reap(block=False)


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


def reap(*, block: bool) -> None:
    """Collect exited children (waiting for them when `block`)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return
