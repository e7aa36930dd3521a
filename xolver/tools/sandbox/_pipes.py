"""Our side of the pipes to a worker: reply frames, and the sinks that drain a snippet's output.

A frame is a 4-byte big-endian length and a UTF-8 JSON object (the worker's `_worker.protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

MAX_REPLY = 16 * 1024 * 1024


def encode_frame(value: dict[str, Any]) -> bytes:
    """`value` as one frame for the worker."""
    body = json.dumps(value).encode()
    return struct.pack(">I", len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame from the worker, or None at end of input or on anything malformed."""
    try:
        head = await reader.readexactly(4)
        (size,) = struct.unpack(">I", head)
        if size > MAX_REPLY:
            return None
        body = await reader.readexactly(size)
        value = json.loads(body)
    except (asyncio.IncompleteReadError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


class Reply(BaseModel):
    """A result frame from the worker; validated because the snippet could forge one."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["result"]
    status: Literal["ok", "exception", "memory"]
    value: str | None = None
    error: str | None = None
    exit_code: int | None = None
    stdout_dropped: int = 0
    stderr_dropped: int = 0


class OutputSink:
    """Drains one output pipe: keeps the first `limit` bytes of each run, counts the rest.

    A run's output ends at its nonce, which the worker writes after the snippet finished.
    """

    def __init__(self, reader: asyncio.StreamReader, limit: int) -> None:
        self.limit = limit
        self.flood_limit = 8 * limit + 1_000_000
        self.kept = bytearray()
        self.total = 0
        self.done = asyncio.Event()
        self.flooded = asyncio.Event()
        self.eof = False
        self._nonce: bytes | None = None
        self._held = b""
        self._task = asyncio.ensure_future(self._pump(reader))

    def begin(self, nonce: bytes) -> None:
        self.kept = bytearray()
        self.total = 0
        self._held = b""
        self._nonce = nonce
        self.done.clear()
        self.flooded.clear()
        if self.eof:
            self.done.set()

    def text(self) -> str:
        return self.kept.decode("utf-8", "replace")

    @property
    def dropped(self) -> int:
        return max(0, self.total - len(self.kept))

    async def _pump(self, reader: asyncio.StreamReader) -> None:
        try:
            while chunk := await reader.read(65536):
                self._feed(chunk)
        finally:
            self.eof = True
            if self._held:
                self._commit(self._held)
                self._held = b""
            self.done.set()

    def _feed(self, chunk: bytes) -> None:
        if self._nonce is None:
            return  # between runs: output of nobody we report on
        data = self._held + chunk
        at = data.find(self._nonce)
        if at >= 0:
            self._commit(data[:at])
            self._held = b""
            self._nonce = None
            self.done.set()
            return
        keep = len(self._nonce) - 1
        self._commit(data[: len(data) - keep] if len(data) > keep else b"")
        self._held = data[len(data) - keep :] if len(data) > keep else data

    def _commit(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        if self.total > self.flood_limit:
            self.flooded.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
