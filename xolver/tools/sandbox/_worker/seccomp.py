"""A seccomp-bpf syscall filter, assembled here from a table (no libseccomp, standard library only).

The filter is a deny list: every call below fails with ``EPERM`` (``clone3`` with ``ENOSYS``, so
the C library falls back to ``clone``, whose flags the filter can read), everything else is allowed.
It is installed in the kernel process after capabilities are dropped and ``no_new_privs`` is set,
and every process a snippet starts inherits it; a filter can never be removed, only added to.

Calls of a foreign ABI (i386 ``int 0x80`` or x32 on x86-64) fail with ``ENOSYS``, so a snippet cannot
reach the denied calls under other numbers.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

from .libc import LIBC, PR_SET_NO_NEW_PRIVS, prctl

# Why each call is denied; the numbers per architecture follow. Tests call every one of them.
DENIED: dict[str, str] = {
    "ptrace": "inspect or control other processes",
    "process_vm_readv": "read another process's memory",
    "process_vm_writev": "write another process's memory",
    "kcmp": "compare kernel objects of other processes",
    "pidfd_getfd": "steal a file descriptor from another process",
    "mount": "change the filesystem view",
    "umount2": "change the filesystem view",
    "pivot_root": "change the filesystem view",
    "chroot": "change the filesystem view",
    "open_tree": "new mount API",
    "move_mount": "new mount API",
    "fsopen": "new mount API",
    "fsconfig": "new mount API",
    "fsmount": "new mount API",
    "fspick": "new mount API",
    "mount_setattr": "new mount API",
    "unshare": "new namespaces (e.g. a user namespace with fresh capabilities)",
    "setns": "join other namespaces",
    "keyctl": "the kernel keyring",
    "add_key": "the kernel keyring",
    "request_key": "the kernel keyring",
    "bpf": "load eBPF programs",
    "perf_event_open": "performance counters (a side channel and a frequent kernel bug)",
    "userfaultfd": "page-fault handling, a common exploit primitive",
    "io_uring_setup": "io_uring, a large kernel attack surface",
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "init_module": "load kernel modules",
    "finit_module": "load kernel modules",
    "delete_module": "unload kernel modules",
    "kexec_load": "boot another kernel",
    "kexec_file_load": "boot another kernel",
    "reboot": "reboot",
    "swapon": "swap devices",
    "swapoff": "swap devices",
    "acct": "process accounting",
    "quotactl": "disk quotas",
    "syslog": "the kernel log",
    "personality": "execution domains (e.g. turning address-space randomisation off)",
    "open_by_handle_at": "open files by handle, bypassing the mount view",
    "name_to_handle_at": "file handles",
    "settimeofday": "the system clock",
    "clock_settime": "the system clock",
    "clock_adjtime": "the system clock",
    "sethostname": "the host name",
    "setdomainname": "the domain name",
    "vhangup": "terminals",
    "fanotify_init": "watch the whole filesystem",
    "lookup_dcookie": "kernel profiling",
    # x86-64 only
    "iopl": "raw I/O ports",
    "ioperm": "raw I/O ports",
    "uselib": "obsolete library loading",
    "_sysctl": "obsolete kernel tuning",
    "nfsservctl": "obsolete NFS control",
    "create_module": "obsolete module loading",
}

# Calls allowed only with some arguments (checked by the filter, see `build_program`).
ARGUMENT_CHECKS = {
    "clone": "fails with EPERM when its flags ask for a new namespace (CLONE_NEWUSER, CLONE_NEWNS, ...)",
    "clone3": "fails with ENOSYS (its flags sit in memory the filter cannot read), so libc falls back to clone",
    "socket": "fails with EPERM for raw sockets (SOCK_RAW) and packet sockets (AF_PACKET)",
}

# fmt: off
SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "pidfd_getfd": 438,
        "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "unshare": 272,
        "setns": 308, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246, "kexec_file_load": 320,
        "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "syslog": 103,
        "personality": 135, "open_by_handle_at": 304, "name_to_handle_at": 303, "settimeofday": 164,
        "clock_settime": 227, "clock_adjtime": 305, "sethostname": 170, "setdomainname": 171, "vhangup": 153,
        "fanotify_init": 300, "lookup_dcookie": 212, "iopl": 172, "ioperm": 173, "uselib": 134, "_sysctl": 156,
        "nfsservctl": 180, "create_module": 174, "clone": 56, "clone3": 435, "socket": 41,
    },
    "aarch64": {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "pidfd_getfd": 438,
        "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442, "unshare": 97,
        "setns": 268, "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "kexec_load": 104, "kexec_file_load": 294,
        "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "quotactl": 60, "syslog": 116,
        "personality": 92, "open_by_handle_at": 265, "name_to_handle_at": 264, "settimeofday": 170,
        "clock_settime": 112, "clock_adjtime": 266, "sethostname": 161, "setdomainname": 162, "vhangup": 58,
        "fanotify_init": 262, "lookup_dcookie": 18, "nfsservctl": 42, "clone": 220, "clone3": 435, "socket": 198,
    },
}
# fmt: on
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (NEWTIME is only valid in clone3/unshare).
NAMESPACE_FLAGS = 0x7E020000
AF_PACKET = 17
SOCK_RAW = 3
SOCK_TYPE_MASK = 0xF

# Classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h).
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_AND_K = 0x54
_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
_OFF_NR, _OFF_ARCH = 0, 4


def _arg(index: int) -> int:
    """Offset of the low 32 bits of syscall argument `index` in `struct seccomp_data` (little-endian)."""
    return 16 + 8 * index


def machine() -> str | None:
    """The architecture key of `SYSCALLS` for this machine, or None where the filter is not available."""
    name = platform.machine().lower()
    name = {"amd64": "x86_64", "arm64": "aarch64"}.get(name, name)
    return name if name in SYSCALLS else None


def build_program(arch: str, *, denied_errno: int = errno.EPERM) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jt, jf, k) instructions for `arch`.

    Args:
        arch: a key of `SYSCALLS`.
        denied_errno: the errno a denied call gets (tests use an unusual one to see the filter act).
    """
    numbers = SYSCALLS[arch]
    deny = RET_ERRNO | (denied_errno & 0xFFFF)
    enosys = RET_ERRNO | errno.ENOSYS
    # Instructions with symbolic jump targets, resolved below: (code, jt label, jf label, k).
    prog: list[tuple[int, str | None, str | None, int]] = [
        (_LD_W_ABS, None, None, _OFF_ARCH),
        (_JEQ_K, None, "enosys", AUDIT_ARCH[arch]),
        (_LD_W_ABS, None, None, _OFF_NR),
    ]
    if arch == "x86_64":
        prog.append((_JGE_K, "enosys", None, X32_SYSCALL_BIT))
    for name in DENIED:
        if name in numbers:
            prog.append((_JEQ_K, "deny", None, numbers[name]))
    prog += [
        (_JEQ_K, "enosys", None, numbers["clone3"]),
        (_JEQ_K, "clone", None, numbers["clone"]),
        (_JEQ_K, "socket", None, numbers["socket"]),
        (_RET_K, None, None, RET_ALLOW),
    ]
    labels = {"clone": len(prog)}
    prog += [
        (_LD_W_ABS, None, None, _arg(0)),
        (_JSET_K, "deny", None, NAMESPACE_FLAGS),
        (_RET_K, None, None, RET_ALLOW),
    ]
    labels["socket"] = len(prog)
    prog += [
        (_LD_W_ABS, None, None, _arg(0)),
        (_JEQ_K, "deny", None, AF_PACKET),
        (_LD_W_ABS, None, None, _arg(1)),
        (_AND_K, None, None, SOCK_TYPE_MASK),
        (_JEQ_K, "deny", None, SOCK_RAW),
        (_RET_K, None, None, RET_ALLOW),
    ]
    labels["deny"] = len(prog)
    prog.append((_RET_K, None, None, deny))
    labels["enosys"] = len(prog)
    prog.append((_RET_K, None, None, enosys))

    def offset(at: int, label: str | None) -> int:
        if label is None:
            return 0
        jump = labels[label] - at - 1
        if not 0 <= jump <= 255:
            raise ValueError(f"seccomp jump out of range at {at}")
        return jump

    return [(code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(prog)]


def install(*, denied_errno: int = errno.EPERM) -> str:
    """Install the filter in this process (and every process it starts later).

    Returns:
        An empty string on success, else why the filter is not installed.
    """
    arch = machine()
    if LIBC is None or arch is None:
        return f"no seccomp filter for {platform.machine() or 'this platform'}"
    program = build_program(arch, denied_errno=denied_errno)
    raw = b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program), ctypes.addressof(buffer))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    rc = LIBC.prctl(
        ctypes.c_int(PR_SET_SECCOMP),
        ctypes.c_ulong(SECCOMP_MODE_FILTER),
        ctypes.c_void_p(ctypes.addressof(fprog)),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if rc != 0:
        return f"seccomp filter refused ({errno.errorcode.get(ctypes.get_errno(), '?')})"
    return ""
