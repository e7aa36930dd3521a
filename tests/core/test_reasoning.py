"""Reasoning models at the seam: think blocks split from replies, detection, caps, test models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xolver.agents.runner import AgentRunner, Budget
from xolver.models import completion_cap, resolve_model
from xolver.models.base import CallTags, Message, ModelRequest, ModelResponse, Usage
from xolver.models.litellm import LiteLLMModel
from xolver.models.reasoning import (
    REASONING_CAP_FLOOR,
    ReasoningFilter,
    is_openai_reasoning_model,
    is_reasoning_model,
    split_reasoning,
)
from xolver.models.testing import FunctionModel, ScriptedModel

REQUEST = ModelRequest(messages=[Message("user", "hi")])


@pytest.mark.parametrize(
    ("text", "visible", "reasoning"),
    [
        ("<think>add 2 and 3</think>Final answer: 5", "Final answer: 5", "add 2 and 3"),
        ("<thinking>hmm</thinking>\n\nOK", "OK", "hmm"),
        ("<THINK>loud</Think>quiet", "quiet", "loud"),
        # the chat template opened the block in the prompt (DeepSeek-R1, QwQ, Qwen3)
        ("let me see... 2+3=5\n</think>\n\nThe answer is 5.", "The answer is 5.", "let me see... 2+3=5"),
        # the model stopped while thinking: nothing visible
        ("<think>first, consider the", "", "first, consider the"),
        ("Sure. <think>first", "Sure.", "first"),
        ("no tags at all", "no tags at all", ""),
        ("  keeps its whitespace \n", "  keeps its whitespace \n", ""),
        ("a < b and c > d", "a < b and c > d", ""),
        ("\n  <think>\n  step 1\n  </think>  \n\n  Answer: 7  \n", "Answer: 7", "step 1"),
        ("<think>outer <think>inner</think> still outer</think>done", "done", "outer inner still outer"),
        ("<think>one</think>A<think>two</think>B", "AB", "one\n\ntwo"),
        ("<think></think>empty thoughts", "empty thoughts", ""),
        ("<think>x</think>reply</think> end", "reply end", "x"),
    ],
)
def test_split_reasoning(text: str, visible: str, reasoning: str) -> None:
    assert split_reasoning(text) == (visible, reasoning)


@pytest.mark.parametrize(
    "text",
    [
        "<think>add 2 and 3</think>Final answer: 5",
        "\n<thinking>\nhmm, 3 < 4\n</thinking>\n\nOK <b>bold</b> and a < b",
        "<think>outer <think>inner</think> still outer</think>done",
        "<think>first, consider the",
        "no tags at all, but a stray < and <thin",
    ],
)
@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_streamed_filter_shows_only_the_reply(text: str, size: int) -> None:
    visible = ReasoningFilter()
    shown = "".join(visible.feed(text[i : i + size]) for i in range(0, len(text), size)) + visible.finish()
    assert shown.strip() == split_reasoning(text)[0].strip()


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_held_stream_handles_a_block_opened_in_the_prompt(size: int) -> None:
    text = "the user wants 2+3, that is 5</think>\n\nFinal answer: 5"
    visible = ReasoningFilter(hold=True)
    pieces = [visible.feed(text[i : i + size]) for i in range(0, len(text), size)]
    assert "".join(pieces) + visible.finish() == "Final answer: 5"
    # without holding, the thinking was already shown by the time the lone closing tag arrived
    eager = ReasoningFilter()
    assert "wants" in eager.feed(text)


def test_held_stream_is_released_when_reasoning_arrives_separately() -> None:
    visible = ReasoningFilter(hold=True)
    assert visible.feed("Final ") == ""
    assert visible.release() == "Final "
    assert visible.feed("answer") == "answer"
    assert visible.finish() == ""


@pytest.mark.parametrize(
    "name",
    [
        "openai/o1",
        "openai/o3-mini",
        "azure/o4-mini",
        "openai/gpt-5",
        "openai/gpt-5-mini",
        "deepseek/deepseek-reasoner",
        "ollama_chat/deepseek-r1:7b",
        "openai/DeepSeek-R1-Distill-Qwen-1.5B",
        "ollama/qwq",
        "openai/Qwen3-0.6B-Q8_0",
        "openai/qwen3-30b-a3b-thinking-2507",
        "mistral/magistral-medium-latest",
        "gemini/gemini-2.0-flash-thinking-exp",
        "openai/gpt-oss-20b",
    ],
)
def test_reasoning_models_by_name(name: str) -> None:
    assert is_reasoning_model(name)


@pytest.mark.parametrize(
    "name",
    [
        "openai/gpt-4o-mini",
        "openai/gpt-5-chat-latest",
        "ollama_chat/qwen2.5",
        "openai/qwen3-coder-30b",
        "openai/Qwen3-4B-Instruct-2507",
        "anthropic/claude-3-5-haiku-latest",
        "local/SmolLM2-135M-Instruct.Q4_1",
        "openai/tiny",
    ],
)
def test_other_models_by_name(name: str) -> None:
    assert not is_reasoning_model(name)


def test_openai_style_reasoning_models() -> None:
    assert is_openai_reasoning_model("openai/o3-mini") and is_openai_reasoning_model("gpt-5-nano")
    assert not is_openai_reasoning_model("deepseek/deepseek-reasoner")
    assert not is_openai_reasoning_model("openai/gpt-4o")


def test_completion_cap_does_not_starve_a_reasoning_model() -> None:
    plain = LiteLLMModel("openai/tiny", reasoning=False)
    thinker = LiteLLMModel("openai/tiny", reasoning=True)
    assert completion_cap(plain, 200) == 200
    assert completion_cap(thinker, 200) == REASONING_CAP_FLOOR
    assert completion_cap(thinker, 20_000) == 20_000
    assert completion_cap(thinker, None) is None
    assert completion_cap(ScriptedModel([]), 300) == 300  # no `reasoning` attribute: not a reasoning model
    assert LiteLLMModel("openai/o3-mini").reasoning  # by name, without asking litellm
    assert resolve_model("openai/tiny", reasoning=True).reasoning  # type: ignore[attr-defined]


async def test_scripted_thinking_reply_is_split() -> None:
    thinking = " ".join(f"step{i}" for i in range(600))
    model = ScriptedModel([f"<think>{thinking}</think>\nFinal answer: 5"])
    response = await model.complete(REQUEST)
    assert response.text == "Final answer: 5"
    assert response.reasoning == thinking
    assert response.usage.completion_tokens == 603  # the thinking counts, as with a real model
    assert response.finish_reason == "stop" and not response.truncated
    model.assert_used_up()


async def test_scripted_stream_replays_only_the_reply() -> None:
    pieces: list[str] = []
    model = ScriptedModel(["<think>secret plan</think>The answer is 4."])
    response = await model.complete_streaming(REQUEST, pieces.append)
    assert "".join(pieces) == response.text == "The answer is 4."


async def test_function_model_can_report_a_truncated_reply() -> None:
    model = FunctionModel(lambda r: ModelResponse(text="", reasoning="thinking about", finish_reason="length"))
    response = await model.complete(REQUEST)
    assert response.truncated and response.text == "" and response.reasoning == "thinking about"
    assert response.usage.completion_tokens == 2 and response.model == "function"  # filled in
    given = ModelResponse(text="<think>x</think>y", usage=Usage(1, 2), model="m")
    kept = await FunctionModel(lambda r: given).complete(REQUEST)
    assert (kept.text, kept.reasoning, kept.usage, kept.model) == ("y", "x", Usage(1, 2), "m")


async def test_runner_records_the_finish_reason() -> None:
    model = FunctionModel(lambda r: ModelResponse(text="partial", finish_reason="length"))
    runner = AgentRunner(model, Budget())
    response = await runner.call([Message("user", "judge this")], CallTags(role="judge"))
    assert response.truncated and runner.ledger.calls[-1].finish_reason == "length"
    scripted = AgentRunner(ScriptedModel(["ok"]), Budget())
    await scripted.call([Message("user", "x")], CallTags())
    assert scripted.ledger.calls[-1].finish_reason == "stop"


class _StreamingLlama:
    """Stands in for `llama_cpp.Llama` (not run here): streams chat chunks as it does, no weights."""

    n_tokens = 0

    def __init__(self, text: str, finish_reason: str) -> None:
        self._text = text
        self._finish_reason = finish_reason

    def create_chat_completion(self, *, stream: bool, **kwargs: object) -> Iterator[dict[str, Any]]:
        assert stream
        yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
        for i in range(0, len(self._text), 3):
            yield {"choices": [{"delta": {"content": self._text[i : i + 3]}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": self._finish_reason}]}

    def close(self) -> None:
        pass


@pytest.mark.parametrize("finish_reason", ["stop", "length"])
async def test_local_model_splits_thinking_and_reports_the_finish_reason(tmp_path: Path, finish_reason: str) -> None:
    from xolver.models.local import LlamaCppModel

    weights = tmp_path / "Qwen3-0.6B-Q8_0.gguf"
    weights.write_bytes(b"")
    model = LlamaCppModel(weights)
    model._llama = _StreamingLlama("the template opened it: 2+3=5</think>\n\nFinal answer: 5", finish_reason)
    pieces: list[str] = []
    try:
        response = await model.complete_streaming(REQUEST, pieces.append)
    finally:
        model.close()
    plain = LlamaCppModel(weights, reasoning=False)
    plain.close()
    assert model.reasoning and not plain.reasoning
    assert (response.text, response.reasoning) == ("Final answer: 5", "the template opened it: 2+3=5")
    assert "".join(pieces) == "Final answer: 5"
    assert response.finish_reason == finish_reason and response.truncated is (finish_reason == "length")
