"""The answer in the shape a client's ``response_format`` asks for: a JSON object, or JSON matching a schema.

The team solves the problem as usual; then one greedy call writes the verified answer in the
requested shape, which is parsed and validated here (``json.loads``, then the JSON Schema with
`jsonschema`). A reply that does not validate goes back to the model with the validator's message,
a bounded number of times; a shape that never validates is an error, never an unvalidated reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from xolver.errors import ModelError
from xolver.models.base import CallTags, Message, Model, ModelRequest, ModelSettings, Usage
from xolver.server.failures import ErrorReply
from xolver.server.schemas import ResponseFormat
from xolver.solution import Solution

__all__ = ["REPAIRS", "ShapeFailed", "Shaped", "check_format", "shape_answer"]

REPAIRS = 2
"""Repair requests after the first reply, before the shape counts as failed."""

_WORKED_CHARS = 4000
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```$", re.DOTALL)

_SYSTEM = (
    "You write the final answer of a solved problem as JSON. Use the team's answer and its worked "
    "solution; do not solve the problem again. Reply with the JSON value only: no prose, no code fences."
)


class ShapeFailed(ModelError):
    """The model's JSON did not validate after every repair."""


@dataclass(frozen=True)
class Shaped:
    """The answer as validated JSON text, and what the shaping calls cost."""

    text: str
    calls: int
    usage: Usage
    cost: float


def _schema(fmt: ResponseFormat) -> dict[str, Any] | None:
    return fmt.json_schema.schema_ if fmt.type == "json_schema" and fmt.json_schema is not None else None


def check_format(fmt: ResponseFormat | None) -> ErrorReply | None:
    """A 400 when `fmt` carries a JSON Schema that is not a valid schema."""
    if fmt is None or (schema := _schema(fmt)) is None:
        return None
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        return ErrorReply(
            400,
            f"response_format.json_schema.schema is not a valid JSON Schema: {e.message}",
            "invalid_request_error",
            "invalid_json_schema",
            "response_format",
        )
    return None


def _problem(fmt: ResponseFormat, problem: str, solution: Solution) -> str:
    worked = solution.best.response[:_WORKED_CHARS] if solution.best is not None else ""
    parts = [f"Problem:\n{problem}"]
    if worked:
        parts.append(f"The team's worked solution:\n{worked}")
    parts.append(f"The team's final answer: {solution.answer or '(none)'}")
    schema = _schema(fmt)
    if schema is None:
        parts.append("Reply with a JSON object that gives this answer.")
    else:
        assert fmt.json_schema is not None
        about = f" ({fmt.json_schema.description})" if fmt.json_schema.description else ""
        parts.append(
            f"Reply with JSON named {fmt.json_schema.name!r}{about} that validates against this JSON Schema:\n"
            + json.dumps(schema, indent=1)
        )
    return "\n\n".join(parts)


def _parsed(reply: str) -> Any:
    text = reply.strip()
    if (fenced := _FENCE.match(text)) is not None:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            return json.loads(text[start : end + 1])  # raises the JSONDecodeError reported back
        raise


def _problems(fmt: ResponseFormat, value: Any) -> str | None:
    """Why `value` does not have the requested shape, or None when it does."""
    schema = _schema(fmt)
    if schema is None:
        return None if isinstance(value, dict) else f"expected a JSON object, got {type(value).__name__}"
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message} (at /{where})" if where else str(error.message)


async def shape_answer(
    model: Model, fmt: ResponseFormat, *, problem: str, solution: Solution, repairs: int = REPAIRS
) -> Shaped:
    """The answer of `solution` written as JSON of the shape `fmt` asks for, validated.

    Raises:
        ShapeFailed: no reply validated within ``1 + repairs`` calls.
        ModelError: the model failed.
    """
    messages = [Message("system", _SYSTEM), Message("user", _problem(fmt, problem, solution))]
    prompt_tokens = completion_tokens = calls = 0
    cost = 0.0
    why = ""
    for attempt in range(repairs + 1):
        request = ModelRequest(
            messages=tuple(messages),
            settings=ModelSettings(temperature=0.0),
            tags=CallTags(role="verifier", purpose="response_format" if attempt == 0 else "response_format_repair"),
        )
        response = await model.complete(request)
        calls += 1
        prompt_tokens += response.usage.prompt_tokens
        completion_tokens += response.usage.completion_tokens
        cost += response.cost
        try:
            value = _parsed(response.text)
        except json.JSONDecodeError as e:
            why = f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        else:
            problem_found = _problems(fmt, value)
            if problem_found is None:
                return Shaped(
                    text=json.dumps(value, ensure_ascii=False),
                    calls=calls,
                    usage=Usage(prompt_tokens, completion_tokens),
                    cost=cost,
                )
            why = problem_found
        messages += [
            Message("assistant", response.text),
            Message("user", f"That reply is invalid: {why}. Reply with the corrected JSON only."),
        ]
    raise ShapeFailed(
        f"the answer could not be written in the requested response_format after {calls} attempt(s); last problem: "
        f"{why}",
        model=model.name,
    )
