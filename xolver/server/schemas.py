"""Request bodies of the OpenAI-compatible endpoint, validated with pydantic.

Fields of the OpenAI API that xolver has no use for (``top_p``, ``max_tokens``, ``tools``, ...) are
accepted and ignored, so stock clients work unchanged. The xolver options are extra body fields
(``extra_body={"agents": 2, "rounds": 1, "namespace": "alice"}`` with the official client).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xolver.config import AnswerFormat

__all__ = ["ChatCompletionRequest", "ChatMessage", "ContentPart", "ProgressMode", "StreamOptions"]

ProgressMode = Literal["reasoning", "comments", "none"]


class ContentPart(BaseModel):
    """One part of a multi-part message; only text parts are understood."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One chat message as OpenAI clients send it."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text (text parts joined by newlines)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content if part.type == "text")


class StreamOptions(BaseModel):
    """OpenAI's ``stream_options``."""

    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``.

    The problem is the text of the last message, which must come from the user; earlier
    messages are not sent to the team (a solve is one problem, not a conversation).

    Attributes:
        agents: solver agents for this request (xolver extra).
        rounds: refinement rounds after the first (xolver extra).
        namespace: memory namespace (tenant) to read and write (xolver extra).
        answer_format: the format the verifier extracts (xolver extra).
        progress: how a stream carries progress: ``reasoning`` (``delta.reasoning_content``),
            ``comments`` (SSE comment lines, invisible to most clients) or ``none``.
        stream_tokens: also stream the agents' generated text as reasoning content.
    """

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="Only one choice is produced.")
    temperature: float | None = Field(None, ge=0.0, le=2.0)

    agents: int | None = Field(None, ge=1, le=16)
    rounds: int | None = Field(None, ge=0, le=20)
    namespace: str | None = Field(None, min_length=1, max_length=200)
    answer_format: AnswerFormat | None = None
    progress: ProgressMode = "reasoning"
    stream_tokens: bool = False

    @model_validator(mode="after")
    def _last_message_is_a_question(self) -> ChatCompletionRequest:
        last = self.messages[-1]
        if last.role != "user":
            raise ValueError(f"the last message must come from the user, not {last.role!r}")
        if not last.text().strip():
            raise ValueError("the last user message has no text")
        return self

    @property
    def problem(self) -> str:
        """The problem to solve: the last user message's text."""
        return self.messages[-1].text().strip()
