"""`LiteLLMModel`: any provider litellm knows, behind our `Model` protocol.

This is the only module that imports litellm. It imports it lazily (litellm takes ~5 s to import and
fetches a cost map from the internet unless told not to), passes every option per call instead of
setting litellm's module globals, retries transient failures itself, and maps litellm's exceptions to
ours in one table (`_classify`).
"""

from __future__ import annotations

import os
from typing import Any

from xolver.errors import (
    ModelError,
    ModelRequestsBlocked,
    PermanentModelError,
    TransientModelError,
    UserError,
)
from xolver.models.base import ModelRequest, ModelResponse, TextSink, Usage, model_requests_allowed
from xolver.models.retry import RetryPolicy, with_retries

__all__ = ["LiteLLMModel"]

_litellm: Any = None


def _import_litellm() -> Any:
    global _litellm
    if _litellm is None:
        # Both must be set before the import: the first stops the cost-map download, the second
        # keeps litellm from phoning home for telemetry.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        os.environ.setdefault("LITELLM_TELEMETRY", "False")
        try:
            import litellm
        except ImportError as e:  # pragma: no cover - litellm is a required dependency
            raise UserError("litellm is not installed: pip install litellm") from e
        litellm.telemetry = False
        litellm.suppress_debug_info = True
        _litellm = litellm
    return _litellm


# litellm exception name -> (our class, a hint for the user). Looked up by name so that a litellm
# release that drops or renames one class degrades to the generic mapping instead of crashing.
_TRANSIENT = (
    "RateLimitError",
    "Timeout",
    "APIConnectionError",
    "InternalServerError",
    "ServiceUnavailableError",
    "BadGatewayError",
)
_PERMANENT_HINTS: dict[str, str] = {
    "AuthenticationError": "authentication failed: check the provider's API key (e.g. OPENAI_API_KEY) or --api-key",
    "PermissionDeniedError": "permission denied by the provider: check the API key's access",
    "NotFoundError": "model not found: check the model name and --api-base",
    "ContextWindowExceededError": "the prompt is longer than the model's context window",
    "ContentPolicyViolationError": "the provider refused the request (content policy)",
    "BadRequestError": "the provider rejected the request",
    "UnprocessableEntityError": "the provider rejected the request",
    "UnsupportedParamsError": "the provider does not support a parameter of this request",
}


def _classify(exc: BaseException, model: str) -> ModelError:
    """Map a litellm (or httpx/openai) exception to our error classes."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    status = getattr(exc, "status_code", None)
    detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    for name in names:
        if name in _PERMANENT_HINTS:
            return PermanentModelError(f"{model}: {_PERMANENT_HINTS[name]} ({detail})", model=model, status=status)
        if name in _TRANSIENT:
            return TransientModelError(f"{model}: {name} ({detail})", model=model, status=status)
    if isinstance(status, int) and (status == 429 or status >= 500):
        return TransientModelError(f"{model}: HTTP {status} ({detail})", model=model, status=status)
    if "LLM Provider NOT provided" in detail or "llm provider" in detail.lower():
        return PermanentModelError(
            f"{model!r} is not a model litellm can route: use provider/name, e.g. openai/gpt-4o-mini, "
            "ollama_chat/qwen2.5, or openai/<name> with --api-base",
            model=model,
            status=status,
        )
    return PermanentModelError(f"{model}: {type(exc).__name__}: {detail}", model=model, status=status)


class LiteLLMModel:
    """A model reached through litellm: ``openai/gpt-4o-mini``, ``anthropic/...``,
    ``ollama_chat/qwen2.5`` (with `api_base`), ``openai/<name>`` with `api_base` for any
    OpenAI-compatible server (vLLM, llama.cpp server, LM Studio).

    Args:
        model: litellm model string.
        api_base: base URL of the server, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: key for the provider; by default litellm reads the provider's env var. For a
            local OpenAI-compatible server with no key, a placeholder is sent.
        timeout: seconds per attempt.
        retry: retry policy for rate limits, timeouts, connection errors and 5xx.
        extra: further keyword arguments passed to `litellm.acompletion` on every call.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if not model or "/" not in model:
            raise UserError(
                f"model {model!r} needs a provider prefix, e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
                "ollama_chat/qwen2.5, or 'local' for the embedded model"
            )
        self._model = model
        self._api_base = api_base
        self._api_key = api_key
        if api_key is None and api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            # Local OpenAI-compatible servers ignore the key, but the client refuses to send none.
            self._api_key = "sk-no-key-required"
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._extra = dict(extra or {})
        self.retries = 0

    @property
    def name(self) -> str:
        return self._model

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if not model_requests_allowed():
            raise ModelRequestsBlocked(
                f"real model requests are switched off in this process; refusing to call {self._model!r}"
            )

        def count_retry(attempt: int, error: TransientModelError, wait: float) -> None:
            self.retries += 1

        return await with_retries(lambda: self._complete_once(request), self._retry, on_retry=count_retry)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        """`complete` with ``stream=True``, calling `on_text` with each delta.

        A retried attempt streams again from the start, so a consumer may see a partial reply
        followed by the full one.
        """
        if not model_requests_allowed():
            raise ModelRequestsBlocked(
                f"real model requests are switched off in this process; refusing to call {self._model!r}"
            )
        return await with_retries(lambda: self._complete_once(request, on_text), self._retry)

    async def _complete_once(self, request: ModelRequest, on_text: TextSink | None = None) -> ModelResponse:
        litellm = _import_litellm()
        s = request.settings
        kwargs: dict[str, Any] = {
            "model": self._model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "timeout": s.timeout or self._timeout,
            "num_retries": 0,  # we retry ourselves, with jitter, and count it
        }
        if self._api_base:
            kwargs["api_base"] = self._api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        for key in ("temperature", "max_tokens", "top_p", "seed"):
            value = getattr(s, key)
            if value is not None:
                kwargs[key] = value
        if s.stop:
            kwargs["stop"] = list(s.stop)
        kwargs.update(self._extra)
        try:
            if on_text is None:
                response = await litellm.acompletion(**kwargs)
            else:
                stream = await litellm.acompletion(stream=True, stream_options={"include_usage": True}, **kwargs)
                chunks = []
                async for chunk in stream:
                    chunks.append(chunk)
                    delta = chunk.choices[0].delta.content if chunk.choices else None
                    if delta:
                        on_text(delta)
                response = litellm.stream_chunk_builder(chunks, messages=kwargs["messages"])
        except Exception as e:
            raise _classify(e, self._model) from e
        return self._to_response(litellm, response)

    def _to_response(self, litellm: Any, response: Any) -> ModelResponse:
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError) as e:
            raise TransientModelError(f"{self._model}: response had no choices", model=self._model) from e
        raw_usage = getattr(response, "usage", None)
        usage = Usage(
            prompt_tokens=int(getattr(raw_usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(raw_usage, "completion_tokens", 0) or 0),
        )
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:
            cost = 0.0
        return ModelResponse(text=text, usage=usage, cost=cost, model=self._model)
