"""The process on the far side of `PythonSandbox`: sets up isolation, then runs snippets on request.

This package runs inside the worker process only: ``python _worker_main.py CONFIG_JSON`` imports it
as the top-level package ``_worker``, never through xolver, and it uses only the standard library so
it starts fast and does not depend on how xolver is installed.

Process layout on Linux when namespaces are available::

    host (our process)
     └─ supervisor   `supervisor.main`, after unshare(user, net, ipc, mount); outside the new PID namespace
         └─ init     PID 1 of the new PID namespace (`supervisor.init`): mounts, then forks the kernel
             └─ kernel   `kernel.serve`: runs the snippets

Killing init (PID 1) makes Linux SIGKILL every other process of its PID namespace, which is how
nothing a snippet spawned survives a run. Where namespaces are refused, the processes are
subreapers instead, and leftovers are killed by walking the process tree in /proc (`cleanup`).

Wire protocol (`protocol`): requests arrive on fd 0 (moved to a private fd at start), replies leave
on the fd named in the config; each frame is a 4-byte big-endian length and a UTF-8 JSON object.
Snippet stdout and stderr are the process's real fds 1 and 2 (pipes the host drains with a size
bound); after every run the kernel writes a per-run nonce to both, so the host knows where that
run's output ends.

Modules: `libc` (the Linux calls, through ctypes), `isolation` (namespaces, read-only mounts, /proc,
resource limits), `cleanup` (killing and reaping what a snippet left), `protocol` (frames and the
bounded output streams), `kernel` (running a snippet), `supervisor` (the process layout above).
"""
