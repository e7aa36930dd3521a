"""The kernel: the process that runs the snippets, one request at a time, like a notebook kernel."""

from __future__ import annotations

import ast
import builtins
import contextlib
import os
import resource
import sys
import time
import traceback
from typing import Any

from . import seccomp
from .cleanup import kill_leftovers
from .isolation import apply_limits
from .libc import LIBC, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS, drop_capabilities, prctl
from .protocol import BoundedStream, read_frame, write_frame


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the snippet's frames only (ours are noise for the agent)."""
    frames = traceback.extract_tb(exc.__traceback__)
    kept = [fr for fr in frames if fr.filename == "<snippet>"] or frames[-1:]
    lines = traceback.format_list(kept)
    return "Traceback (most recent call last):\n" + "".join(lines) + "".join(traceback.format_exception_only(exc))


def run_snippet(code: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run `code` in `namespace`; the reply says how it ended and the repr of a final expression."""
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


def serve(cfg: dict[str, Any], req_fd: int, rep_fd: int, report: dict[str, Any]) -> None:
    """Drop privileges, apply limits, say hello, then run snippets until the host stops asking."""
    in_pid_ns = bool(report.get("pid"))
    proc_private = report.get("proc") == "private"
    if not in_pid_ns and LIBC is not None:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    scratch = cfg["scratch"]
    if report.get("filesystem") or cfg.get("make_scratch"):
        os.makedirs(scratch, exist_ok=True)
    os.chdir(scratch)
    if report.get("user"):
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        try:
            drop_capabilities()
            report["capabilities"] = "dropped"
        except OSError as e:
            report["notes"].append(f"could not drop capabilities ({e.strerror})")
    if cfg.get("seccomp", True) and LIBC is not None:
        why_not = seccomp.install()
        report["seccomp"] = not why_not
        if why_not:
            report["notes"].append(why_not)
    apply_limits(cfg)
    limit = int(cfg["max_output_bytes"])
    out = BoundedStream(1, limit)
    err = BoundedStream(2, limit)
    sys.stdout = out
    sys.stderr = err
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the kernel
    # The snippet runs as a script would: `__main__`, with the builtins module (not a module's dict).
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    kernel_pid = os.getpid()
    report["kernel_pid_in_ns"] = kernel_pid
    write_frame(rep_fd, {"type": "hello", "isolation": report})
    while True:
        req = read_frame(req_fd)
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
        reply = run_snippet(str(req.get("code", "")), namespace)
        if os.getpid() != kernel_pid:
            # A child forked by the snippet finished the snippet: it must never touch the protocol.
            os._exit(0)
        reply["seconds"] = time.perf_counter() - started
        reply["stdout_dropped"] = out.dropped
        reply["stderr_dropped"] = err.dropped
        kill_leftovers(in_pid_ns, proc_private=proc_private)
        nonce = str(req.get("nonce", "")).encode()
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.write(fd, nonce)
        reply["type"] = "result"
        write_frame(rep_fd, reply)
