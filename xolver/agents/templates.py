"""Prompt templates: package data rendered strictly.

Placeholders are ``{{name}}``. A placeholder without a value is an error, never an empty string, and
single braces pass through untouched, so LaTeX (``\\boxed{}``) needs no escaping.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from xolver.errors import XolverError

__all__ = ["PromptError", "load_prompt", "render"]

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class PromptError(XolverError):
    """A prompt template is missing or was rendered without one of its variables."""


@cache
def load_prompt(name: str) -> str:
    """The text of ``xolver/agents/prompts/<name>.md``."""
    try:
        return (resources.files("xolver.agents") / "prompts" / f"{name}.md").read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise PromptError(f"no prompt template named {name!r}") from e


def render(name: str, **values: object) -> str:
    """Render the template `name` with `values`.

    Raises:
        PromptError: a placeholder has no value.
    """
    template = load_prompt(name)
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - values.keys())
    if missing:
        raise PromptError(f"prompt {name!r} rendered without {', '.join(missing)}")
    # Substitution is one pass over the template, so braces inside values are never re-expanded.
    return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template).strip() + "\n"
