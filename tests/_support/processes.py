"""The live processes below this test process, read from /proc (sandbox and Ray tests check they leave none)."""

from __future__ import annotations

import os
from pathlib import Path


def our_descendants() -> list[int]:
    """Live processes below this test process."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                rest = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if rest[0] not in (b"Z", b"X"):
                parents[int(name)] = int(rest[1])
    me, found = os.getpid(), []
    for pid in parents:
        p = pid
        while p in parents and p > 1:
            p = parents[p]
            if p == me:
                found.append(pid)
                break
    return found
