"""The model-call cache: replies to temperature-0 requests kept on disk, keyed by the full request.

`CachedModel` wraps a model. A request at temperature 0 is looked up by a SHA-256 of everything that
reaches the provider: the model's identity (its name and server), every message, and every
generation setting but the timeout. A hit returns the stored reply with ``cached=True`` and no cost,
without calling the model; a miss calls it and stores the reply. Sampled requests (any other
temperature, or none) always go to the model: a cached sample would be the same sample every time,
and a vote over copies is no vote. Failed calls are not stored.

The store is one SQLite file (`ModelCallCache`), safe to share between threads and processes; its
rows never expire (delete the file to empty it).

    >>> model = CachedModel(resolve_model("openai/gpt-4o-mini"), ModelCallCache(Path("calls.sqlite")))
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from xolver.models.base import (
    Model,
    ModelRequest,
    ModelResponse,
    StreamingModel,
    TextSink,
    ToolInvocation,
    Usage,
    supports_function_calling,
    supports_vision,
)
from xolver.models.composite import close_model

__all__ = ["CachedModel", "ModelCallCache", "request_key"]


def request_key(identity: str, request: ModelRequest) -> str:
    """The cache key of `request` sent to the model `identity`: a SHA-256 hex digest.

    The call's tags (role, agent, round) are not part of it: they never reach the provider.
    """
    settings = dataclasses.asdict(request.settings)
    settings.pop("timeout", None)
    body: dict[str, object] = {
        "model": identity,
        "messages": [
            [m.role, m.content] if not (m.tool_calls or m.tool_call_id or m.images) else dataclasses.asdict(m)
            for m in request.messages
        ],
        "settings": settings,
    }
    if request.tools:  # absent from the key when there are none, so older caches still hit
        body["tools"] = [t.to_openai() for t in request.tools]
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class ModelCallCache:
    """Model replies in a SQLite file, by request key.

    Args:
        path: the file (created with its folder when missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, reply TEXT NOT NULL, "
                "stored REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0)"
            )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> ModelResponse | None:
        """The stored reply for `key` (as the model gave it), or None."""
        with self._lock:
            row = self._db.execute("SELECT reply FROM calls WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            with self._db:
                self._db.execute("UPDATE calls SET hits = hits + 1 WHERE key = ?", (key,))
            self.hits += 1
        data = json.loads(row[0])
        usage = Usage(**data.pop("usage"))
        calls = tuple(ToolInvocation(**c) for c in data.pop("tool_calls", None) or ())
        return ModelResponse(usage=usage, tool_calls=calls, **data)

    def put(self, key: str, response: ModelResponse) -> None:
        """Store `response` under `key` (replacing what was there)."""
        data = dataclasses.asdict(response)
        data.pop("cached", None)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, reply, stored) VALUES (?, ?, ?)",
                (key, json.dumps(data, ensure_ascii=False), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class CachedModel:
    """`model` with its temperature-0 calls answered from `cache` when the same request was made before.

    Args:
        model: the model that answers a miss.
        cache: where replies are kept (closed by `close` only when `owns_cache`).
        identity: what names the model in the key (default its name); give the server too when one
            name can mean different models (``openai/x@http://host/v1``).
        owns_cache: close the cache with this model.
    """

    def __init__(
        self, model: Model, cache: ModelCallCache, *, identity: str | None = None, owns_cache: bool = False
    ) -> None:
        self.model = model
        self.cache = cache
        self.identity = identity or model.name
        self._owns_cache = owns_cache

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def reasoning(self) -> bool:
        return getattr(self.model, "reasoning", False) is True

    @property
    def supports_function_calling(self) -> bool:
        return supports_function_calling(self.model)

    @property
    def supports_vision(self) -> bool:
        return supports_vision(self.model)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._complete(request, None)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        return await self._complete(request, on_text)

    async def _complete(self, request: ModelRequest, on_text: TextSink | None) -> ModelResponse:
        if request.settings.temperature != 0:
            return await self._call(request, on_text)
        key = request_key(self.identity, request)
        hit = self.cache.get(key)
        if hit is not None:
            if on_text is not None and hit.text:
                on_text(hit.text)
            return dataclasses.replace(hit, cached=True, cost=0.0)
        response = await self._call(request, on_text)
        self.cache.put(key, response)
        return response

    async def _call(self, request: ModelRequest, on_text: TextSink | None) -> ModelResponse:
        if on_text is not None and isinstance(self.model, StreamingModel):
            return await self.model.complete_streaming(request, on_text)
        return await self.model.complete(request)

    def close(self) -> None:
        close_model(self.model)
        if self._owns_cache:
            self.cache.close()
