"""How retrieved experience is shown to a solver: one honest rendering, bounded by a token budget.

What a record shows:

- a **verified** ``problem`` record is an ordinary few-shot example: the problem, its worked
  solution and its answer (GSM8K's ``<<48/2=24>>`` calculator notes and ``#### N`` line are
  removed; the answer is stated once, as ``Answer:``). A program seat is shown the example's
  program instead, where it has one: the record's own code, or the program its calculator notes
  describe (`worked_program`);
- an **unverified** ``problem`` record is not shown at all (`shown` is false): a solution nobody
  checked is not presented as one;
- a ``strategy`` record is a bullet with its "when to use" / "not when" conditions; a cautionary
  one (distilled from a wrong attempt) goes under "Mistakes to avoid";
- a ``code`` record is a helper whose assertions passed in the sandbox, shown with its purpose;
- the model's own recollection (self-retrieval, id ``recalled``) is labelled as such: a problem it
  recalled and the solution as it recalled it, unchecked.

`fit_budget` keeps whole exemplars, best first within each kind, until the budget (in approximate
tokens, 4 characters each) is spent; the retrieve step applies it, so the records credited or blamed
after the solve are exactly those the solvers saw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xolver._text import excerpt
from xolver.solution import Exemplar

__all__ = [
    "CHARS_PER_TOKEN",
    "RECALLED_ID",
    "fit_budget",
    "format_experience",
    "lead_into_problem",
    "render_exemplar",
    "shown",
    "worked_program",
    "worked_solution",
]

CHARS_PER_TOKEN = 4
_CALCULATOR = re.compile(r"<<[^<>]*>>")
_GSM8K_FINAL = re.compile(r"^\s*####.*$", re.MULTILINE)
_HEADERS = {
    "problem": "Worked examples (different problems, solved and checked):",
    "strategy": "Strategies that helped on similar problems:",
    "caution": "Mistakes to avoid (seen on similar problems):",
    "code": "Helper code (tested):",
    "recall": "A related problem you recalled (your own recollection, not checked):",
}
RECALLED_ID = "recalled"


def shown(kind: str, verified: bool, *, recalled: bool = False) -> bool:
    """Whether a retrieved record of this kind is shown to solvers at all (unverified problems from
    the store are not; the model's own recollection is, labelled)."""
    return kind != "problem" or verified or recalled


def worked_solution(solution: str) -> str:
    """A stored solution as a worked example: calculator notes and the ``#### N`` line removed."""
    return _GSM8K_FINAL.sub("", _CALCULATOR.sub("", solution)).strip()


_NOTE = re.compile(r"<<([^<>=]+)=([^<>]*)>>")
_NUMBER_TOKEN = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


def worked_program(solution: str) -> str | None:
    """A worked solution with calculator notes (GSM8K's ``<<48/2=24>>``) as the program it describes,
    or None when it has no notes or one is not plain arithmetic.

    Each line with a note becomes its sentence, as a comment, and one assignment (``step1 = 48 / 2``);
    a number in a later note that equals an earlier step's result is written as that step, so the
    program carries its values forward the way a program seat is asked to. The last step is printed.
    What a program seat is shown: it writes programs, and a chain of thought in prose is another task.

    Example:
        >>> print(worked_program("She sold 48/2 = <<48/2=24>>24 in May.\\nIn all 48+24 = <<48+24=72>>72.\\n#### 72"))
        # She sold 48/2 = 24 in May.
        step1 = 48 / 2
        # In all 48+24 = 72.
        step2 = 48 + step1
        print(step2)
    """
    lines: list[str] = []
    results: dict[str, str] = {}  # an earlier step's result, as written -> its variable
    step = 0
    for line in solution.splitlines():
        notes = _NOTE.findall(line)
        if not notes:
            continue
        comment = _CALCULATOR.sub("", line).strip()
        if comment:
            lines.append(f"# {comment}")
        for expression, result in notes:
            code = expression.replace("x", "*").replace("×", "*").replace("÷", "/").replace(",", "")
            if not re.fullmatch(r"[\d.\s+\-*/()]+", code) or not re.search(r"\d", code):
                return None

            def forward(m: re.Match[str]) -> str:
                return results.get(m.group(0), m.group(0))

            code = re.sub(r"\s*([+\-*/])\s*", r" \1 ", _NUMBER_TOKEN.sub(forward, code)).strip()
            step += 1
            name = f"step{step}"
            lines.append(f"{name} = {code}")
            results.setdefault(result.strip().replace(",", ""), name)
    if not step:
        return None
    return "\n".join([*lines, f"print(step{step})"])


def _section(e: Exemplar) -> str:
    if e.id == RECALLED_ID:
        return "recall"
    if e.kind == "strategy" and e.cautionary:
        return "caution"
    return e.kind


def _shown(e: Exemplar) -> bool:
    return shown(e.kind, e.verified, recalled=e.id == RECALLED_ID)


def render_exemplar(e: Exemplar, number: int = 1, *, programs: bool = False) -> str:
    """One exemplar as the prompt shows it; with `programs` (a program seat's prompt), a worked
    example that has a program (its own, or `worked_program` of its calculator notes, which the
    retrieve step puts in `Exemplar.code`) is shown as that program."""
    match _section(e):
        case "problem":
            if programs and e.code:
                return f"Example {number}: {excerpt(e.text, 400)}\n```python\n{excerpt(e.code, 900)}\n```"
            answer = f"\nAnswer: {e.answer}" if e.answer else ""
            return f"Example {number}: {excerpt(e.text, 400)}\nSolution: {excerpt(e.solution, 600)}{answer}"
        case "code":
            return f"# {e.text}\n```python\n{excerpt(e.code, 600)}\n```"
        case "recall":
            return f"Problem: {excerpt(e.text, 400)}\nAs you recalled its solution: {excerpt(e.solution, 600)}"
        case _:
            notes = [f"when: {e.when_to_use}"] if e.when_to_use else []
            notes += [f"not when: {e.when_not_to_use}"] if e.when_not_to_use else []
            tail = f" ({'; '.join(notes)})" if notes else ""
            return f"- {excerpt(e.text, 300)}{tail}"


def fit_budget(exemplars: Sequence[Exemplar], max_tokens: int | None) -> list[Exemplar]:
    """The exemplars that are shown, whole, in order, until about `max_tokens` are used (None: all)."""
    kept = [e for e in exemplars if _shown(e)]
    if max_tokens is None:
        return kept
    budget = max_tokens * CHARS_PER_TOKEN
    out: list[Exemplar] = []
    headers: set[str] = set()
    for e in kept:
        cost = len(render_exemplar(e)) + 2
        section = _section(e)
        if section not in headers:
            cost += len(_HEADERS[section]) + 2
        if cost > budget:
            continue
        budget -= cost
        headers.add(section)
        out.append(e)
    return out


def format_experience(exemplars: Sequence[Exemplar], *, programs: bool = False) -> str:
    """The experience block of a solver prompt, in sections by kind ("" when nothing is shown); with
    `programs`, for a program seat, worked examples are shown as programs where they can be."""
    groups: dict[str, list[Exemplar]] = {section: [] for section in _HEADERS}
    for e in exemplars:
        if _shown(e):
            groups[_section(e)].append(e)
    parts: list[str] = []
    for section, items in groups.items():
        if not items:
            continue
        parts.append(_HEADERS[section])
        if section in ("problem", "code"):
            parts.extend(render_exemplar(e, i, programs=programs) for i, e in enumerate(items, 1))
        else:
            parts.append("\n".join(render_exemplar(e) for e in items))
    return "\n\n".join(parts) + "\n\n" if parts else ""


PROBLEM_LEAD_IN = "Now solve this problem:\n"


def lead_into_problem(experience: str) -> str:
    """The experience block and a line that marks where the problem starts, for a prompt whose problem
    has no label of its own ("" when nothing is shown). Without it, Qwen2.5-Coder-0.5B shown worked
    examples right before the problem often answered an example (``benchmarks/experience_format_probe.py``)."""
    return experience + PROBLEM_LEAD_IN if experience else ""
