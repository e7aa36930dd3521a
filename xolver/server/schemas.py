"""Request bodies of the OpenAI-compatible endpoint, validated with pydantic.

Nothing a client asks for is silently dropped: a field that changes what the answer must be and
that xolver cannot honour (``tools``, ``logprobs``, audio and file parts, image parts when the
backbone is not a vision model) is refused with a 400 that names it (`unsupported`). Image parts
for a vision backbone go to every role with the problem (`ChatCompletionRequest.images`). Fields
that only tune sampling of one model call (``max_tokens``, ``top_p``, ``seed``, ``stop``, penalties)
are accepted and do not apply: a solve is many calls, bounded by the server's budgets. The xolver
options are extra body fields (``extra_body={"agents": 2, "rounds": 1, "namespace": "alice"}`` with
the official client).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xolver.config import AnswerFormat
from xolver.conversation import Exchange, compose_problem
from xolver.models.base import ImagePart, Model, supports_vision
from xolver.server.failures import ErrorReply

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "ContentPart",
    "JsonSchemaFormat",
    "ProgressMode",
    "ResponseFormat",
    "StreamOptions",
    "unsupported",
]

ProgressMode = Literal["reasoning", "comments", "none"]


class ContentPart(BaseModel):
    """One part of a multi-part message: text, or an image (for a vision backbone); others are refused."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None
    image_url: dict[str, Any] | str | None = None

    def image(self) -> ImagePart | None:
        """The image of an ``image_url`` part with a usable address (``https://``, ``http://`` or a
        ``data:image/`` URL), else None."""
        if self.type != "image_url":
            return None
        given = self.image_url if isinstance(self.image_url, dict) else {"url": self.image_url}
        url, detail = given.get("url"), given.get("detail")
        if not isinstance(url, str) or not url.startswith(_IMAGE_URL_PREFIXES):
            return None
        return ImagePart(url=url, detail=detail if isinstance(detail, str) else None)


_IMAGE_URL_PREFIXES = ("https://", "http://", "data:image/")


class ChatMessage(BaseModel):
    """One chat message as OpenAI clients send it."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    tool_calls: list[dict[str, Any]] | None = None

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


class JsonSchemaFormat(BaseModel):
    """``response_format.json_schema``: the schema the answer must validate against."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """OpenAI's ``response_format``: plain text, any JSON object, or JSON matching a schema."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type 'json_schema' needs a 'json_schema' object")
        return self


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``.

    The problem the team sees is the conversation composed by `xolver.conversation.compose_problem`
    (the rule the chat follows too): system and developer messages as instructions, the last few
    user/assistant exchanges, then the last user message, which is the question.

    Attributes:
        n: independent team solves, one choice each (the server caps it).
        response_format: the answer as JSON (an object, or matching a schema), validated.
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
    n: int = Field(1, ge=1)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None

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
    def images(self) -> tuple[ImagePart, ...]:
        """The images of the user messages, in order (`unsupported` refused the request unless the
        backbone takes them)."""
        found = []
        for message in self.messages:
            if message.role == "user" and isinstance(message.content, list):
                found += [image for part in message.content if (image := part.image()) is not None]
        return tuple(found)

    @property
    def problem(self) -> str:
        """The problem the team solves: instructions, earlier exchanges and the question."""
        instructions = "\n".join(m.text().strip() for m in self.messages if m.role in {"system", "developer"})
        earlier: list[Exchange] = []
        asked: list[str] = []
        for message in self.messages:
            if message.role == "user":
                asked.append(message.text().strip())
            elif message.role == "assistant" and asked:
                earlier.append(Exchange("\n".join(asked), message.text().strip()))
                asked = []
        # Consecutive user messages at the end are one question.
        return compose_problem("\n".join(asked), earlier, instructions=instructions)


def _function_name(choice: str | dict[str, Any] | None) -> str | None:
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            return str(function["name"])
        return str(choice.get("name", "")) or None
    return None


def unsupported(body: ChatCompletionRequest, backbone: Model) -> ErrorReply | None:
    """A 400 for the first thing in `body` that xolver cannot honour, or None when it can do all.

    Tools are refused unless the client said not to call them (``tool_choice: "none"``): a team
    answer is text, and returning text where the client required a tool call, or quietly never
    calling the tools it offered, would each be a different request than the one sent. Image parts
    are fine when `backbone` takes images (`supports_vision`: for a litellm model, what litellm's
    model table says; a model it does not know is text-only), in a user message, with an address.
    """
    choice = body.tool_choice if body.tool_choice is not None else body.function_call
    if body.tools or body.functions:
        if choice != "none":
            return ErrorReply(
                400,
                "tools are not supported: xolver answers with the team's text, it does not call the client's "
                "functions (send tool_choice 'none', or leave tools out)",
                "invalid_request_error",
                "unsupported_parameter",
                "tools" if body.tools else "functions",
            )
    elif choice not in (None, "none", "auto"):
        return ErrorReply(
            400,
            f"tool_choice {_function_name(choice) or choice!r} asks for a tool call, but xolver does not call tools",
            "invalid_request_error",
            "unsupported_parameter",
            "tool_choice" if body.tool_choice is not None else "function_call",
        )
    for i, message in enumerate(body.messages):
        if message.role in {"tool", "function"} or message.tool_calls:
            return ErrorReply(
                400,
                f"messages[{i}] is a tool call or a tool result; xolver does not call tools",
                "invalid_request_error",
                "unsupported_parameter",
                f"messages.{i}",
            )
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if part.type == "text":
                    continue
                where = f"messages.{i}.content.{j}"
                if part.type == "image_url":
                    refused = _refused_image(part, message.role, backbone, f"messages[{i}].content[{j}]", where)
                    if refused is None:
                        continue
                    return refused
                return ErrorReply(
                    400,
                    f"messages[{i}].content[{j}] is a {part.type!r} part; xolver accepts text parts, and image "
                    "parts when the backbone model takes images",
                    "invalid_request_error",
                    "unsupported_content",
                    where,
                )
    if body.logprobs or body.top_logprobs:
        return ErrorReply(
            400,
            "logprobs are not supported: a team answer has no token log probabilities",
            "invalid_request_error",
            "unsupported_parameter",
            "logprobs",
        )
    if body.audio is not None or (body.modalities and set(body.modalities) - {"text"}):
        return ErrorReply(
            400,
            "only text output is supported (modalities ['text'])",
            "invalid_request_error",
            "unsupported_parameter",
            "modalities",
        )
    return None


def _refused_image(part: ContentPart, role: str, backbone: Model, named: str, where: str) -> ErrorReply | None:
    """Why an ``image_url`` part cannot go to `backbone`, or None when it can."""
    if not supports_vision(backbone):
        return ErrorReply(
            400,
            f"{named} is an image, but the backbone model {backbone.name!r} does not take images (litellm's "
            "model table does not list it as a vision model); send text only, or serve a vision model",
            "invalid_request_error",
            "unsupported_content",
            where,
        )
    if role != "user":
        return ErrorReply(
            400,
            f"{named} is an image in a {role!r} message; images go in user messages",
            "invalid_request_error",
            "unsupported_content",
            where,
        )
    if part.image() is None:
        return ErrorReply(
            400,
            f"{named} has no usable image address: image_url.url must be an https:// URL or a data:image/ URL",
            "invalid_request_error",
            "invalid_value",
            where,
        )
    return None
