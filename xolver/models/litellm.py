"""`LiteLLMModel`: any provider litellm knows, behind our `Model` protocol.

This is the only module that imports litellm. It imports it lazily (litellm takes ~5 s to import and
fetches a cost map from the internet unless told not to), passes every option per call instead of
setting litellm's module globals, retries transient failures itself, and maps litellm's exceptions to
ours in one table (`_classify`). An ``openai/`` model on a server on this machine (a loopback
`api_base`) is called without litellm, over httpx (`xolver.models.openai_http`), so a process that
only talks to such a server never pays for importing litellm.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from xolver.errors import (
    ModelError,
    ModelRequestsBlocked,
    PermanentFailure,
    PermanentModelError,
    TransientFailure,
    TransientModelError,
    UserError,
)
from xolver.models.base import (
    Message,
    ModelRequest,
    ModelResponse,
    TextSink,
    ToolInvocation,
    Usage,
    model_requests_allowed,
)
from xolver.models.limits import ConcurrencyLimit, default_max_concurrency, is_loopback_url
from xolver.models.reasoning import (
    ReasoningFilter,
    is_openai_reasoning_model,
    is_reasoning_model,
    join_reasoning,
    split_reasoning,
)
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


# litellm exception name -> what failed (and, for permanent failures, a hint for the user). Looked up
# by name, most specific class first, so that a litellm release that drops or renames one class
# degrades to the generic mapping instead of crashing.
_TRANSIENT: dict[str, TransientFailure] = {
    "RateLimitError": "rate_limit",
    "Timeout": "timeout",
    "APIConnectionError": "connection",
    "InternalServerError": "server_error",
    "ServiceUnavailableError": "server_error",
    "BadGatewayError": "server_error",
}
_PERMANENT: dict[str, tuple[PermanentFailure, str]] = {
    "AuthenticationError": (
        "auth",
        "authentication failed: check the provider's API key (e.g. OPENAI_API_KEY) or --api-key",
    ),
    "PermissionDeniedError": ("auth", "permission denied by the provider: check the API key's access"),
    "NotFoundError": ("not_found", "model not found: check the model name and --api-base"),
    "ContextWindowExceededError": ("context_window", "the prompt is longer than the model's context window"),
    "ContentPolicyViolationError": ("content_policy", "the provider refused the request (content policy)"),
    "BudgetExceededError": ("budget", "the provider's spending budget is exhausted"),
    "BadRequestError": ("bad_request", "the provider rejected the request"),
    "UnprocessableEntityError": ("bad_request", "the provider rejected the request"),
    "UnsupportedParamsError": ("bad_request", "the provider does not support a parameter of this request"),
}


def _classify(exc: BaseException, model: str) -> ModelError:
    """Map a litellm (or httpx/openai) exception, or a direct call's `EndpointError`, to our error
    classes, with the `ModelError.kind` the exception's class names."""
    named = getattr(exc, "kind", None)  # an EndpointError names its failure as litellm would
    names = [named] if isinstance(named, str) else [cls.__name__ for cls in type(exc).__mro__]
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    for name in names:
        if name in _PERMANENT:
            kind, hint = _PERMANENT[name]
            return PermanentModelError(f"{model}: {hint} ({detail})", model=model, status=status, kind=kind)
        if name in _TRANSIENT:
            return TransientModelError(f"{model}: {name} ({detail})", model=model, status=status, kind=_TRANSIENT[name])
    if status is not None and (status == 429 or status >= 500):
        return TransientModelError(f"{model}: HTTP {status} ({detail})", model=model, status=status)
    if "LLM Provider NOT provided" in detail or "llm provider" in detail.lower():
        return PermanentModelError(
            f"{model!r} is not a model litellm can route: use provider/name, e.g. openai/gpt-4o-mini, "
            "ollama_chat/qwen2.5, or openai/<name> with --api-base",
            model=model,
            status=status,
            kind="not_found",
        )
    return PermanentModelError(f"{model}: {type(exc).__name__}: {detail}", model=model, status=status)


_NOT_SENT = frozenset({"model", "timeout", "num_retries", "api_base", "api_key", "drop_params"})
"""Arguments `LiteLLMModel._kwargs` gives litellm itself: not fields of a direct call's request body."""


class _Relay:
    """Hands a streamed reply's text to `on_text` as it arrives, keeping reasoning out of it."""

    def __init__(self, on_text: TextSink, *, hold: bool) -> None:
        self._on_text = on_text
        self._visible = ReasoningFilter(hold=hold)

    def delta(self, kind: str, text: str) -> None:
        # Reasoning that arrives apart from the content means the content is all reply.
        shown = self._visible.release() if kind == "reasoning" else self._visible.feed(text)
        if shown:
            self._on_text(shown)

    def finish(self) -> None:
        rest = self._visible.finish()
        if rest:
            self._on_text(rest)


class LiteLLMModel:
    """A model reached through litellm: ``openai/gpt-4o-mini``, ``anthropic/...``,
    ``ollama_chat/qwen2.5`` (with `api_base`), ``openai/<name>`` with `api_base` for any
    OpenAI-compatible server (vLLM, llama.cpp server, LM Studio).

    Thinking is kept out of the reply for every model: `ModelResponse.reasoning` gets litellm's
    ``reasoning_content`` and any ``<think>`` blocks of the content. For reasoning models
    (`reasoning`): OpenAI's o-series and GPT-5 are sent ``max_completion_tokens`` instead of
    ``max_tokens`` and no ``temperature`` / ``top_p`` (they reject them); every call to a reasoning
    model, or with a reasoning effort, passes ``drop_params=True`` so a parameter the provider does
    not take is dropped instead of failing the call.

    An ``openai/<name>`` model whose `api_base` is on this machine (llama.cpp's server, vLLM, LM
    Studio) is called directly over HTTP (`xolver.models.openai_http`), without importing litellm:
    the same request, retries, limits and reasoning handling, no price (a local server costs
    nothing), and no lookup in litellm's model table (it does not know what such a server serves).

    At most `max_concurrency` requests are in flight; the others wait for a slot on our side, and
    the per-attempt `timeout` starts only once the slot is held, so waiting for our own limit never
    times a call out. A retried attempt gives its slot back during the backoff and queues again.

    Args:
        model: litellm model string.
        api_base: base URL of the server, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: key for the provider; by default litellm reads the provider's env var. For a
            local OpenAI-compatible server with no key, a placeholder is sent.
        timeout: seconds per attempt.
        retry: retry policy for rate limits, timeouts, connection errors and 5xx.
        extra: further keyword arguments passed to `litellm.acompletion` on every call.
        reasoning: whether this is a reasoning model; None detects it from the name and from
            litellm's model table (`litellm.supports_reasoning`).
        reasoning_effort: ``"low"``, ``"medium"`` or ``"high"`` for calls whose settings set none.
        max_concurrency: requests in flight at most; None: 1 for a server on this machine (a
            loopback `api_base`, or an ollama / ollama_chat / lm_studio model: they serve one
            request at a time by default), else no limit; 0: no limit.
        transport: ``"auto"``: over HTTP directly for an ``openai/`` model at a loopback
            `api_base` (without `extra`), else through litellm; ``"litellm"`` or ``"http"`` (an
            ``openai/`` model with an `api_base`) to choose.
        function_calling: whether to offer tools natively (OpenAI ``tools``); None asks litellm's
            model table (`litellm.supports_function_calling`), except for a server on this machine,
            whose chat template may not take tools: there it is off unless set to True.
        vision: whether the model takes images (`Message.images`); None asks litellm's model table
            (`litellm.supports_vision`: a model the table does not know is text-only), except for a
            server on this machine, whose model the table does not describe: off unless True.
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
        reasoning: bool | None = None,
        reasoning_effort: str | None = None,
        max_concurrency: int | None = None,
        transport: Literal["auto", "litellm", "http"] = "auto",
        function_calling: bool | None = None,
        vision: bool | None = None,
    ) -> None:
        if not model or "/" not in model:
            raise UserError(
                f"model {model!r} needs a provider prefix, e.g. openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
                "ollama_chat/qwen2.5, or 'local' for the embedded model"
            )
        if max_concurrency is not None and max_concurrency < 0:
            raise UserError(f"max_concurrency must be >= 0 (0: no limit), got {max_concurrency}")
        if transport == "http" and not (model.startswith("openai/") and api_base):
            raise UserError(f"transport 'http' needs an openai/ model and an api_base, got {model!r}")
        self._model = model
        self._api_base = api_base
        self._api_key = api_key
        if api_key is None and api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            # Local OpenAI-compatible servers ignore the key, but the client refuses to send none.
            self._api_key = "sk-no-key-required"
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._extra = dict(extra or {})
        self._reasoning = reasoning
        self._reasoning_effort = reasoning_effort
        self._openai_reasoning = is_openai_reasoning_model(model)
        # Models that may think inline, in <think> tags: named so, or declared reasoning by the user.
        # Hosted models that litellm's table calls reasoning (Claude, Gemini) send thinking apart.
        self._thinks_inline = (reasoning is True or is_reasoning_model(model)) and not self._openai_reasoning
        limit = default_max_concurrency(model, api_base) if max_concurrency is None else max_concurrency
        self._slots = ConcurrencyLimit(limit)
        self.retries = 0
        # Calls bypass litellm for an OpenAI-compatible server on this machine (see the class docstring).
        local_server = model.startswith("openai/") and is_loopback_url(api_base) and not self._extra
        self._direct = transport == "http" or (transport == "auto" and local_server)
        self._function_calling = function_calling
        self._vision = vision

    @property
    def name(self) -> str:
        return self._model

    @property
    def reasoning(self) -> bool:
        """Whether this is a reasoning model: as given, else by name, else by litellm's model table
        (not for a server on this machine, whose model names the table does not describe).

        Asking litellm imports it (about 5 s, once per process), as the first call would.
        """
        if self._reasoning is None:
            self._reasoning = is_reasoning_model(self._model) or (not self._direct and self._litellm_says_reasoning())
        return self._reasoning

    @property
    def supports_function_calling(self) -> bool:
        """Whether tools go to this model as native definitions (see `function_calling`).

        Asking litellm's table imports litellm (about 5 s, once per process), as the first call would.
        """
        if self._function_calling is None:
            self._function_calling = not self._direct and self._litellm_says_function_calling()
        return self._function_calling

    @property
    def supports_vision(self) -> bool:
        """Whether images go to this model with a message (see `vision`).

        Asking litellm's table imports litellm (about 5 s, once per process), as the first call would.
        """
        if self._vision is None:
            self._vision = not self._direct and self._litellm_says_vision()
        return self._vision

    def _litellm_says_vision(self) -> bool:
        try:
            return bool(_import_litellm().supports_vision(model=self._model))
        except Exception:  # unknown models raise or log; a table lookup must never fail a request
            return False

    def _litellm_says_function_calling(self) -> bool:
        try:
            return bool(_import_litellm().supports_function_calling(model=self._model))
        except Exception:  # unknown models raise; a table lookup must never fail a call
            return False

    @property
    def max_concurrency(self) -> int | None:
        """Requests in flight at most (None: no limit)."""
        return self._slots.limit

    def _litellm_says_reasoning(self) -> bool:
        try:
            return bool(_import_litellm().supports_reasoning(model=self._model))
        except Exception:  # unknown models raise or log; a table lookup must never fail a call
            return False

    async def complete(self, request: ModelRequest) -> ModelResponse:
        if not model_requests_allowed():
            raise ModelRequestsBlocked(
                f"real model requests are switched off in this process; refusing to call {self._model!r}"
            )

        def count_retry(attempt: int, error: TransientModelError, wait: float) -> None:
            self.retries += 1

        return await with_retries(lambda: self._complete_once(request), self._retry, on_retry=count_retry)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        """`complete` with ``stream=True``, calling `on_text` with each piece of the reply.

        Only reply text reaches `on_text`: reasoning deltas (``reasoning_content``) are not sent, and
        ``<think>`` blocks in the content are filtered out as they stream (`ReasoningFilter`). For a
        model that may think inline (DeepSeek-R1, QwQ, Qwen3, ... by name, or ``reasoning=True``),
        reply text is held until the first think tag or reasoning delta, because templates that open
        the block in the prompt make the text before a lone ``</think>`` reasoning. The returned
        response is authoritative.

        A retried attempt streams again from the start, so a consumer may see a partial reply
        followed by the full one.
        """
        if not model_requests_allowed():
            raise ModelRequestsBlocked(
                f"real model requests are switched off in this process; refusing to call {self._model!r}"
            )
        return await with_retries(lambda: self._complete_once(request, on_text), self._retry)

    def _kwargs(self, request: ModelRequest) -> dict[str, Any]:
        s = request.settings
        kwargs: dict[str, Any] = {
            "model": self._model,
            "messages": [_message(m) for m in request.messages],
            "timeout": s.timeout or self._timeout,
            "num_retries": 0,  # we retry ourselves, with jitter, and count it
        }
        if self._api_base:
            kwargs["api_base"] = self._api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        # o-series and GPT-5 reject sampling parameters and take max_completion_tokens, which also
        # counts their hidden reasoning.
        sampling = () if self._openai_reasoning else ("temperature", "top_p")
        for key in (*sampling, "seed"):
            value = getattr(s, key)
            if value is not None:
                kwargs[key] = value
        if s.max_tokens is not None:
            kwargs["max_completion_tokens" if self._openai_reasoning else "max_tokens"] = s.max_tokens
        if s.stop:
            kwargs["stop"] = list(s.stop)
        effort = s.reasoning_effort or self._reasoning_effort
        if effort:
            kwargs["reasoning_effort"] = effort
        if effort or self._openai_reasoning or self.reasoning:
            kwargs["drop_params"] = True
        if request.tools:  # the caller offers tools only to a model that calls them
            kwargs["tools"] = [t.to_openai() for t in request.tools]
        kwargs.update(self._extra)
        return kwargs

    async def _complete_once(self, request: ModelRequest, on_text: TextSink | None = None) -> ModelResponse:
        if self._direct:
            return await self._complete_direct(request, on_text)
        litellm = _import_litellm()
        kwargs = self._kwargs(request)
        async with self._slots:
            try:
                if on_text is None:
                    response = await litellm.acompletion(**kwargs)
                else:
                    response = await self._stream(litellm, kwargs, on_text)
            except Exception as e:
                raise _classify(e, self._model) from e
        return self._to_response(litellm, response)

    async def _complete_direct(self, request: ModelRequest, on_text: TextSink | None) -> ModelResponse:
        from xolver.models.openai_http import EndpointError, chat_completion

        kwargs = self._kwargs(request)
        body = {k: v for k, v in kwargs.items() if k not in _NOT_SENT}
        body["model"] = self._model.split("/", 1)[1]
        relay = _Relay(on_text, hold=self._thinks_inline) if on_text is not None else None
        async with self._slots:
            try:
                reply = await chat_completion(
                    str(self._api_base),
                    body,
                    api_key=self._api_key or os.environ.get("OPENAI_API_KEY"),
                    timeout=float(kwargs["timeout"]),
                    on_delta=relay.delta if relay is not None else None,
                )
            except EndpointError as e:
                raise _classify(e, self._model) from e
        if relay is not None:
            relay.finish()
        text, inline = split_reasoning(reply.content)
        return ModelResponse(
            text=text,
            usage=Usage(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens),
            cost=0.0,
            model=self._model,
            reasoning=join_reasoning(reply.reasoning, inline),
            finish_reason=reply.finish_reason,
            tool_calls=tuple(ToolInvocation(id=i, name=n, arguments=a) for i, n, a in reply.tool_calls),
        )

    async def _stream(self, litellm: Any, kwargs: dict[str, Any], on_text: TextSink) -> Any:
        stream = await litellm.acompletion(stream=True, stream_options={"include_usage": True}, **kwargs)
        relay = _Relay(on_text, hold=self._thinks_inline)
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            if getattr(delta, "reasoning_content", None):
                relay.delta("reasoning", delta.reasoning_content)
            if delta.content:
                relay.delta("content", delta.content)
        relay.finish()
        return litellm.stream_chunk_builder(chunks, messages=kwargs["messages"])

    def _to_response(self, litellm: Any, response: Any) -> ModelResponse:
        try:
            choice = response.choices[0]
            content = choice.message.content or ""
        except (AttributeError, IndexError) as e:
            raise TransientModelError(f"{self._model}: response had no choices", model=self._model) from e
        text, inline = split_reasoning(content)
        separate = getattr(choice.message, "reasoning_content", None)
        raw_usage = getattr(response, "usage", None)
        usage = Usage(
            prompt_tokens=int(getattr(raw_usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(raw_usage, "completion_tokens", 0) or 0),
        )
        try:
            cost = float(litellm.completion_cost(completion_response=response) or 0.0)
        except Exception:
            cost = 0.0
        finish = getattr(choice, "finish_reason", None)
        return ModelResponse(
            text=text,
            usage=usage,
            cost=cost,
            model=self._model,
            reasoning=join_reasoning(separate if isinstance(separate, str) else None, inline),
            finish_reason=str(finish) if finish else None,
            tool_calls=_invocations(getattr(choice.message, "tool_calls", None)),
        )


def _message(message: Message) -> dict[str, Any]:
    """A message as the OpenAI chat format has it (litellm translates it for other providers)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.images:
        out["content"] = [{"type": "text", "text": message.content}, *(i.to_openai() for i in message.images)]
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    return out


def _invocations(raw: Any) -> tuple[ToolInvocation, ...]:
    """litellm's ``message.tool_calls`` (objects or dicts) as `ToolInvocation` values."""
    found: list[ToolInvocation] = []
    for i, call in enumerate(raw or []):
        function = call.get("function") if isinstance(call, dict) else getattr(call, "function", None)
        if isinstance(function, dict):
            name, arguments = function.get("name"), function.get("arguments")
        else:
            name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
        if not name:
            continue
        call_id = call.get("id") if isinstance(call, dict) else getattr(call, "id", None)
        text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
        found.append(ToolInvocation(id=str(call_id or f"call_{i}"), name=str(name), arguments=text))
    return tuple(found)
