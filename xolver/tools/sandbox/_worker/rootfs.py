"""The minimal filesystem view: a fresh root holding only what the interpreter and a snippet need.

Built by init inside the private mount namespace, on a tmpfs mounted over the (empty) scratch
directory, then entered with ``pivot_root`` so the host's tree is detached, not merely hidden:

* read-only binds of ``/usr``, the top-level ``/bin``, ``/lib``... links, the Python installation (its
  prefixes, wherever they live, ``/tmp`` included) and every ``sys.path`` entry outside it. An entry
  that a ``.pth`` file adds for an editable install (a source checkout) shows only its importable
  children (packages, modules, ``*.dist-info``), never its dot files, ``.env`` or ``.git``;
* ``/etc`` with only ``ld.so.cache``, ``localtime``, ``alternatives`` and a two-line ``passwd`` and
  ``group`` written here, plus any host path the caller names (for example ``/etc/ssl``);
* ``/tmp`` and ``/dev/shm``: fresh size-limited tmpfs (the scratch directory lives in ``/tmp``);
  ``/var/tmp`` links to ``/tmp``;
* ``/dev/null``, ``zero``, ``full``, ``random``, ``urandom`` and the ``/proc/self/fd`` links;
* ``/proc``: a fresh procfs of the worker's PID namespace.

Directories created only to reach a bind (``/root`` and ``/root/.pyenv`` for an interpreter under
``/root``) are mode 0111: they can be traversed but not listed. The root tmpfs is read-only by the
time a snippet runs, so nobody can change that.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable
from typing import Any

from .libc import (
    LIBC,
    MNT_DETACH,
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
    pivot_root,
    umount2,
)

DEVICES = ("null", "zero", "full", "random", "urandom")
TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives")
MAX_CHECKOUT_ENTRIES = 200
_IMPORTABLE_FILES = (".py", ".pth", ".so", ".pyd", ".zip", ".egg")


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def interpreter_paths() -> dict[str, Any]:
    """What this interpreter needs, read from itself: its prefixes and its ``sys.path``."""
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    exe = os.path.realpath(sys.executable) if sys.executable else ""
    if exe:
        prefixes.add(os.path.dirname(os.path.dirname(exe)))
    return {"prefixes": sorted(p for p in prefixes if p), "sys_path": [p for p in sys.path if p]}


def plan_binds(prefixes: list[str], sys_path: list[str], extra: list[str]) -> tuple[list[str], list[str]]:
    """Host paths to bind read-only at the same place, and the sys.path entries narrowed to their children.

    Returns:
        (binds, narrowed): `binds` sorted so that parents come first, none inside another.
    """
    wanted: list[str] = []
    if os.path.isdir("/usr"):
        wanted.append("/usr")
    for name in TOP_LINKS:
        path = "/" + name
        if os.path.isdir(path) and not os.path.islink(path):
            wanted.append(path)
    install: list[str] = []
    for prefix in prefixes:
        for variant in (os.path.abspath(prefix), os.path.realpath(prefix)):
            if os.path.isdir(variant):
                install.append(variant)
    wanted += install
    narrowed: list[str] = []
    for entry in sys_path:
        path = os.path.abspath(entry)
        if not os.path.exists(path) or _under(path, wanted) or _under(os.path.realpath(path), wanted):
            continue
        base = os.path.basename(path.rstrip("/"))
        if os.path.isfile(path) or base in ("site-packages", "dist-packages"):
            wanted.append(path)
        else:
            # A source checkout put on sys.path by an editable install: only what can be imported.
            narrowed.append(path)
            wanted += _importable_children(path)
    for path in extra:
        path = os.path.abspath(path)
        if os.path.exists(path):
            wanted.append(path)
    binds: list[str] = []
    for path in sorted(dict.fromkeys(wanted), key=lambda p: (p.count("/"), p)):
        if not _under(path, binds):
            binds.append(path)
    return binds, narrowed


def _importable_children(path: str) -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if name.startswith(".") or len(found) >= MAX_CHECKOUT_ENTRIES:
                continue
            if os.path.isdir(full):
                if os.path.isfile(os.path.join(full, "__init__.py")) or name.endswith((".dist-info", ".egg-info")):
                    found.append(full)
            elif name.endswith(_IMPORTABLE_FILES):
                found.append(full)
    return found


class RootBuilder:
    """Assembles the new root under `root` (a tmpfs), remembering which directories it made."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.stubs: list[str] = []

    def inside(self, path: str) -> str:
        return self.root + path

    def makedirs(self, path: str) -> str:
        """Create `path` (absolute, as seen inside) and its missing parents; return the host-side path."""
        parts = [p for p in path.split("/") if p]
        current = ""
        for part in parts:
            current += "/" + part
            target = self.inside(current)
            if os.path.islink(target):
                raise OSError(f"{current} is a link in the new root")
            if not os.path.isdir(target):
                os.mkdir(target, 0o755)
                self.stubs.append(current)
        return self.inside(path)

    def bind(self, source: str) -> None:
        target = self.inside(source)
        if os.path.isdir(source):
            self.makedirs(source)
        else:
            self.makedirs(os.path.dirname(source))
            if not os.path.exists(target):
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        mount(source, target, None, MS_BIND | MS_REC)

    def symlink(self, link_to: str, path: str) -> None:
        self.makedirs(os.path.dirname(path))
        os.symlink(link_to, self.inside(path))

    def write(self, path: str, text: str) -> None:
        self.makedirs(os.path.dirname(path))
        with open(self.inside(path), "w") as f:
            f.write(text)


def build_root(cfg: dict[str, Any], report: dict[str, Any]) -> None:
    """Build the minimal view and ``pivot_root`` into it; raise OSError if any step is refused."""
    if LIBC is None:
        raise OSError("no libc")
    root = os.path.realpath(cfg["scratch"])
    size = f"size={int(cfg['scratch_mb'])}m,mode=1777"
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
    tree = RootBuilder(root)
    os.mkdir(tree.inside("/tmp"), 0o1777)
    mount("tmpfs", tree.inside("/tmp"), "tmpfs", MS_NOSUID | MS_NODEV, size)
    visible = {"/tmp", "/dev", "/dev/shm", "/etc", "/proc", "/var"}

    tree.makedirs("/dev/shm")
    mount("tmpfs", tree.inside("/dev/shm"), "tmpfs", MS_NOSUID | MS_NODEV, size)
    devices = []
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            tree.bind(f"/dev/{name}")
            devices.append(f"/dev/{name}")
    tree.symlink("/proc/self/fd", "/dev/fd")
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        tree.symlink(f"/proc/self/fd/{fd}", f"/dev/{name}")
    tree.makedirs("/proc")
    tree.symlink("../tmp", "/var/tmp")

    uid, gid = os.getuid(), os.getgid()
    tree.write("/etc/passwd", f"sandbox:x:{uid}:{gid}:sandbox:/tmp:/bin/sh\n")
    tree.write("/etc/group", f"sandbox:x:{gid}:\n")
    for path in ETC_FILES:
        if os.path.islink(path):
            tree.symlink(os.readlink(path), path)
        elif os.path.exists(path):
            tree.bind(path)
    for name in TOP_LINKS:
        if os.path.islink("/" + name):
            tree.symlink(os.readlink("/" + name), "/" + name)

    binds, narrowed = plan_binds(cfg["prefixes"], cfg["sys_path"], list(cfg.get("readable_paths", [])))
    skipped: list[str] = []
    for path in binds:
        try:
            tree.bind(path)
        except OSError:
            skipped.append(path)
    visible.update(binds)
    if skipped:
        report["notes"].append(f"not bound: {', '.join(skipped[:5])}")
    if narrowed:
        report["notes"].append(f"only importable entries of {', '.join(narrowed[:3])}")
    for stub in tree.stubs:
        if stub not in visible and not _under(stub, ["/tmp", "/dev", "/etc", "/proc"]):
            os.chmod(tree.inside(stub), 0o111)

    writable = _lock_binds(root, keep_writable={tree.inside(p) for p in ("/tmp", "/dev/shm", *devices)})
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    mount("proc", tree.inside("/proc"), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    report["proc"] = "private"
    os.chdir(root)
    pivot_root(".", ".")
    umount2(".", MNT_DETACH)
    os.chdir("/")
    report["view"] = "minimal"
    report["writable_mounts"] = writable
    report["filesystem"] = not writable
    if writable:
        report["notes"].append(f"{len(writable)} mount(s) left writable: {', '.join(writable[:5])}")


def _lock_binds(root: str, *, keep_writable: set[str]) -> list[str]:
    """Remount every bind under `root` read-only (keeping its locked flags); return those that stayed writable."""
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    failed: list[str] = []
    for line in lines:
        fields = line.split()
        target = fields[4].replace("\\040", " ")
        if not target.startswith(root + "/") or target in keep_writable:
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for opt in fields[5].split(","):
            flags |= MOUNT_FLAG_NAMES.get(opt, 0)
        try:
            mount(None, target, None, flags)
        except OSError:
            failed.append(target[len(root) :])
    return failed
