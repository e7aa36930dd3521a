"""The worker's side of the wire: length-prefixed JSON frames, and output streams with a byte budget."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

MAX_FRAME = 64 * 1024 * 1024


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


def read_frame(fd: int) -> dict[str, Any] | None:
    """The next request from the host, or None at end of input or on a malformed frame."""
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


def write_frame(fd: int, value: dict[str, Any]) -> None:
    """Send `value` to the host as one frame."""
    body = json.dumps(value).encode()
    data = struct.pack(">I", len(body)) + body
    while data:
        n = os.write(fd, data)
        data = data[n:]


class BoundedStream:
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
