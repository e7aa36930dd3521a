"""Model backends behind one async protocol, and `resolve_model` to pick one from a string.

Model strings:
    ``local``                 the embedded SmolLM2-135M-Instruct GGUF (llama-cpp-python, offline)
    ``local/<path.gguf>``     any GGUF file, in-process
    anything else             a litellm model string: ``openai/gpt-4o-mini``, ``anthropic/...``,
                              ``ollama_chat/qwen2.5``, ``openai/<name>`` with an api_base, ...
"""

from __future__ import annotations

from xolver.models.base import (
    CallTags,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    Usage,
    allow_model_requests,
    model_requests_allowed,
    set_model_requests_allowed,
)

__all__ = [
    "CallTags",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "Usage",
    "allow_model_requests",
    "model_requests_allowed",
    "resolve_model",
    "set_model_requests_allowed",
]

LOCAL = "local"


def resolve_model(
    spec: str | Model,
    *,
    api_base: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
) -> Model:
    """Turn a model string (or an existing `Model`) into a `Model`.

    Raises:
        UserError: the string names no usable model, or the local backend is not installed.
    """
    if not isinstance(spec, str):
        return spec
    text = spec.strip()
    if text == LOCAL or text.startswith(LOCAL + "/"):
        from xolver.models.local import LlamaCppModel

        path = text[len(LOCAL) + 1 :] or None
        return LlamaCppModel(path)
    from xolver.models.litellm import LiteLLMModel

    return LiteLLMModel(text, api_base=api_base, api_key=api_key, timeout=timeout)
