"""The terminal during a solve: its echo turned off, and Ctrl-C (SIGINT) turned into a callback."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

__all__ = ["no_echo", "on_sigint"]


@contextlib.contextmanager
def no_echo(enabled: bool) -> Iterator[None]:
    """Turn off the echo of stdin's terminal inside the block (Ctrl-C still sends SIGINT)."""
    import sys

    try:
        import termios
    except ImportError:  # pragma: no cover - Windows
        enabled = False
    if not enabled or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


@contextlib.contextmanager
def on_sigint(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` on SIGINT (Ctrl-C) inside the block, when the loop can take signals."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
