"""Reasoning models: separating their thinking from the reply, recognising them, and capping them.

A reasoning model returns its chain of thought either in a field of its own (litellm's
``message.reasoning_content``) or inline, wrapped in ``<think>...</think>`` (DeepSeek-R1, QwQ, Qwen3
served by llama.cpp, Ollama or LM Studio without a reasoning parser). Agents must only ever see the
reply: `split_reasoning` takes the inline form apart, `ReasoningFilter` does the same for a stream,
and every backend puts the thinking in `ModelResponse.reasoning` and the rest in `ModelResponse.text`.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "REASONING_CAP_FLOOR",
    "ReasoningFilter",
    "completion_cap",
    "is_openai_reasoning_model",
    "is_reasoning_model",
    "join_reasoning",
    "split_reasoning",
]

_TAG = re.compile(r"<(/?)think(?:ing)?>", re.IGNORECASE)
_TAG_TEXTS = ("<think>", "</think>", "<thinking>", "</thinking>")


def split_reasoning(text: str) -> tuple[str, str]:
    """Split a reply into ``(visible, reasoning)`` at its ``<think>`` / ``<thinking>`` tags.

    - ``<think>R</think>A``: reasoning R, visible A. Several blocks are all reasoning (joined by a
      blank line); a block nested in a block belongs to the outer one.
    - ``R</think>A`` (a closing tag before any opening one): the chat template put the opening tag in
      the prompt, as DeepSeek-R1, QwQ and Qwen3 templates do, so everything before it is reasoning.
    - ``A<think>R`` with no closing tag: the model stopped while thinking (usually at its token cap);
      everything after the tag is reasoning, and the visible reply is what came before it (often "").
    - A closing tag after a complete block is dropped.

    Text without tags is returned unchanged; otherwise both parts are stripped of surrounding
    whitespace.
    """
    if "<" not in text or _TAG.search(text) is None:
        return text, ""
    visible: list[str] = []
    blocks: list[str] = []
    current: list[str] = []
    depth = 0
    seen_tag = False
    pos = 0
    for match in _TAG.finditer(text):
        segment = text[pos : match.start()]
        pos = match.end()
        closing = match.group(1) == "/"
        if depth:
            current.append(segment)
            depth += -1 if closing else 1
            if depth == 0:
                blocks.append("".join(current))
                current = []
        elif not closing:
            visible.append(segment)
            depth = 1
        elif not seen_tag:
            blocks.append("".join(visible) + segment)
            visible = []
        else:
            visible.append(segment)
        seen_tag = True
    tail = text[pos:]
    if depth:
        current.append(tail)
        blocks.append("".join(current))
    else:
        visible.append(tail)
    reasoning = "\n\n".join(block.strip() for block in blocks if block.strip())
    return "".join(visible).strip(), reasoning


def join_reasoning(*parts: str | None) -> str:
    """The non-empty parts, stripped and separated by a blank line."""
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


class ReasoningFilter:
    """`split_reasoning` for a stream: feed it the pieces, show what it returns.

    `feed` returns the part of each piece that is reply text and can be shown now; a possible tag cut
    in two by the stream is held until the next piece decides it. Call `finish` at the end of the
    stream for what is still held.

    A closing tag with no opening one (the chat template opened the block in the prompt) turns the
    text before it into reasoning, which the stream cannot take back once shown. With
    ``hold=True`` (for models known to think) reply text is therefore held until the first tag
    decides what it is, or until `release` is called (e.g. when the provider sends reasoning in a
    field of its own, so the content is all reply). The text returned by `split_reasoning` on the
    whole reply is authoritative; the stream is a live view of it (leading whitespace is dropped).

    Args:
        hold: hold reply text until the first think tag (or `release`, or `finish`).
    """

    def __init__(self, *, hold: bool = False) -> None:
        self._hold = hold
        self._held: list[str] = []
        self._pending = ""
        self._depth = 0
        self._seen_tag = False
        self._started = False

    def feed(self, piece: str) -> str:
        """Take the next piece of streamed text; return the reply text to show now."""
        buffer = self._pending + piece
        self._pending = ""
        out: list[str] = []
        pos = 0
        while True:
            lt = buffer.find("<", pos)
            if lt < 0:
                self._text(buffer[pos:], out)
                break
            self._text(buffer[pos:lt], out)
            match = _TAG.match(buffer, lt)
            if match is not None:
                self._tag(match.group(1) == "/", out)
                pos = match.end()
                continue
            rest = buffer[lt:].lower()
            if any(len(rest) < len(tag) and tag.startswith(rest) for tag in _TAG_TEXTS):
                self._pending = buffer[lt:]
                break
            self._text("<", out)
            pos = lt + 1
        return "".join(out)

    def release(self) -> str:
        """Stop holding; return the held reply text."""
        out: list[str] = []
        if self._hold:
            self._hold = False
            held, self._held = "".join(self._held), []
            self._emit(held, out)
        return "".join(out)

    def finish(self) -> str:
        """The stream ended: return whatever reply text is still held."""
        out: list[str] = []
        pending, self._pending = self._pending, ""
        self._text(pending, out)  # an unfinished tag at the very end is text
        return "".join(out) + self.release()

    def _text(self, segment: str, out: list[str]) -> None:
        if not segment or self._depth:
            return
        if self._hold:
            self._held.append(segment)
        else:
            self._emit(segment, out)

    def _tag(self, closing: bool, out: list[str]) -> None:
        if self._depth:
            self._depth += -1 if closing else 1
        elif not closing:
            self._depth = 1
        elif not self._seen_tag:
            self._held = []  # it was reasoning, opened in the prompt
        if not self._seen_tag:
            self._seen_tag = True
            out.append(self.release())

    def _emit(self, text: str, out: list[str]) -> None:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        if text:
            out.append(text)


# Names of models that think before they answer. Matched against the last segment of the model
# string, lower-cased ("openai/o3-mini" -> "o3-mini", "ollama_chat/deepseek-r1:7b" -> "deepseek-r1:7b").
_OPENAI_REASONING = re.compile(r"^(?:o[134](?:$|[-:_.])|gpt-5(?!.*-chat))")
_REASONING = re.compile(r"deepseek-r1|deepseek-reasoner|r1-distill|qwq|magistral|gpt-oss|thinking")


def _base_name(model: str) -> str:
    return model.strip().lower().rsplit("/", 1)[-1]


def is_openai_reasoning_model(model: str) -> bool:
    """Whether `model` names an OpenAI o-series or GPT-5 reasoning model (o1, o3-mini, o4-mini, gpt-5, ...).

    These reject ``temperature`` / ``top_p`` and take ``max_completion_tokens`` (which also counts
    their hidden reasoning) instead of ``max_tokens``.
    """
    return _OPENAI_REASONING.search(_base_name(model)) is not None


def is_reasoning_model(model: str) -> bool:
    """Whether the model string's name says it is a reasoning ("thinking") model.

    Covers OpenAI's o-series and GPT-5, DeepSeek-R1 / deepseek-reasoner and its distills, QwQ, Qwen3
    (except its -Instruct and -Coder releases, which do not think), Magistral, gpt-oss, and any
    ``*-thinking`` model. A name is only a hint: backends also ask their provider library, and
    users can override it (``XolverConfig.reasoning``).
    """
    name = _base_name(model)
    if is_openai_reasoning_model(name) or _REASONING.search(name):
        return True
    return "qwen3" in name and "instruct" not in name and "coder" not in name


REASONING_CAP_FLOOR = 8192
"""The smallest completion cap `completion_cap` gives a reasoning model."""


def completion_cap(model: Any, cap: int | None) -> int | None:
    """The completion-token cap to send `model` for a role whose replies are short by design.

    The planner, judge and verifier caps (a few hundred tokens) keep a small model from rambling,
    but a reasoning model spends its thinking out of the same allowance (OpenAI counts hidden
    reasoning against ``max_completion_tokens``; an inline ``<think>`` block is completion text):
    capped at 200 it stops mid-thought and returns an empty reply with ``finish_reason="length"``.
    For a reasoning model the cap is therefore raised to at least `REASONING_CAP_FLOOR` (8192)
    tokens rather than removed: a truncated reply wastes the whole call plus a repair call, while
    unused headroom costs nothing, yet a small local thinking model that loops in its thoughts must
    still stop somewhere. Other models get `cap` unchanged.

    Args:
        model: any `Model`; one with a true ``reasoning`` attribute counts as a reasoning model.
        cap: the role's cap, or None for none.
    """
    if cap is None or getattr(model, "reasoning", False) is not True:
        return cap
    return max(cap, REASONING_CAP_FLOOR)
