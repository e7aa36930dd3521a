"""Learning after a solve: when to write back, the problem record, and parsing a distillation.

These are pure functions. The distiller's prompt and its model call are in `xolver.agents.distiller`.
A weak model's distillation is often malformed, so the parser is tolerant (it takes what it can and
drops the rest), and a code fragment is stored only if it at least parses as Python.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from xolver.memory.records import ExperienceRecord

__all__ = [
    "claims_a_result",
    "parse_distillation",
    "problem_record",
    "should_write_back",
    "split_tests",
]

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_HEADER = re.compile(
    r"^[ \t>*#-]*\**[ \t]*(strategy|strategies|pattern|insight|caution|mistake|pitfall|code|helper|function)"
    r"[ \t]*(?:\d+)?[ \t]*\**[ \t]*[:.)-][ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
_NOT_WHEN = re.compile(
    r"^[ \t>*-]*\**[ \t]*(?:when not to use(?: it)?|not when|avoid when|do not use when)\**[ \t]*:\**[ \t]*(.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_WHEN = re.compile(
    r"^[ \t>*-]*\**[ \t]*(?:when to use(?: it)?|when|use when)\**[ \t]*:\**[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE
)
_CAUTION_LABELS = ("caution", "mistake", "pitfall")
_MAX_STRATEGY_CHARS = 600
_MIN_STRATEGY_CHARS = 15


def should_write_back(score: float | None, verified: bool, threshold: float = 0.9) -> bool:
    """Whether a solve's result may enter the memory: a verified answer, or a judge score >= threshold.

    Args:
        score: the best judge score in [0, 1], or None when there was no judge.
        verified: the final answer was checked (by execution, sympy, tests or a reference answer).
        threshold: minimum judge score of an unverified result (config ``write_back_min_score``).
    """
    if verified:
        return True
    return score is not None and score >= threshold


def _clean(text: str) -> str:
    return " ".join(text.replace("**", "").split()).strip(" -*:")


def _python_ok(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _signature(code: str) -> str:
    """``name(args)`` of the first top-level function or class, or ""."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return f"{node.name}({ast.unparse(node.args)})"
        if isinstance(node, ast.ClassDef):
            return node.name
    return ""


@dataclass(frozen=True)
class _Lesson:
    """A strategy or caution as parsed: its text and the conditions it comes with."""

    text: str
    cautionary: bool = False
    when: str = ""
    not_when: str = ""

    @classmethod
    def of(cls, body: str, *, cautionary: bool = False) -> _Lesson:
        """Split "when to use:" / "when not to use:" lines off a strategy's body."""
        not_when = " ".join(m.group(1) for m in _NOT_WHEN.finditer(body))
        body = _NOT_WHEN.sub("", body)
        when = " ".join(m.group(1) for m in _WHEN.finditer(body))
        body = _WHEN.sub("", body)
        return cls(_clean(body), cautionary, _clean(when), _clean(not_when))


def _from_json(text: str) -> tuple[list[_Lesson], list[tuple[str, str]]] | None:
    """Accept a JSON reply too: {"strategies": [...], "cautions": [...], "code": [{"purpose": .., "code": ..}]}."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data: Any = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    strategies = [_Lesson(s) for s in data.get("strategies", []) if isinstance(s, str)]
    strategies += [_Lesson(s, cautionary=True) for s in data.get("cautions", []) if isinstance(s, str)]
    fragments: list[tuple[str, str]] = []
    for item in data.get("code", []) or data.get("code_fragments", []):
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            fragments.append((str(item.get("purpose", "")), item["code"]))
    if not strategies and not fragments:
        return None
    return strategies, fragments


def _from_text(text: str) -> tuple[list[_Lesson], list[tuple[str, str]]]:
    fences = list(_FENCE.finditer(text))
    # Fenced code is cut out first so its lines are never read as strategies.
    prose = _FENCE.sub("\n<<CODE>>\n", text)
    strategies: list[_Lesson] = []
    purposes: list[str] = []
    headers = list(_HEADER.finditer(prose))
    for i, m in enumerate(headers):
        label = m.group(1).lower()
        body_end = headers[i + 1].start() if i + 1 < len(headers) else len(prose)
        body = prose[m.end() : body_end]
        head = body.split("<<CODE>>", 1)[0]
        if label in ("code", "helper", "function"):
            purposes.append(_clean(head.splitlines()[0] if head.strip() else ""))
        else:
            strategies.append(_Lesson.of(head, cautionary=label in _CAUTION_LABELS))
    if not headers:
        # No labels at all: bullet points are the best guess at strategies.
        for line in prose.splitlines():
            bullet = re.match(r"^\s*(?:[-*•]|\d+[.)])\s+(.*)", line)
            if bullet:
                strategies.append(_Lesson(_clean(bullet.group(1))))
    fragments = [(purposes[i] if i < len(purposes) else "", f.group(1)) for i, f in enumerate(fences)]
    return strategies, fragments


def parse_distillation(
    text: str,
    *,
    namespace: str = "default",
    domain: str = "general",
    source: str = "distilled",
    problem: str = "",
    score: float | None = None,
    verified: bool = False,
    max_strategies: int = 3,
    max_code: int = 2,
) -> list[ExperienceRecord]:
    """Strategy and code records from a distillation reply; never raises on a malformed reply.

    Accepts the requested ``STRATEGY:`` / ``CODE:`` + fenced block format, loose variants (bold
    labels, numbering, bullets without labels) and a JSON object. Strategies that are empty, too
    short, or ``NONE`` are dropped, long ones cut; code that does not parse as Python is dropped.

    Args:
        text: the model's reply.
        namespace: namespace of the records.
        domain: domain of the records.
        source: provenance (e.g. the solve's id).
        problem: the problem the experience came from; kept with code fragments as their origin.
        score: judge score of the solve, stored with each record.
        verified: whether the solve's answer was verified.
        max_strategies: keep at most this many strategies.
        max_code: keep at most this many code fragments.
    """
    if not text or not text.strip():
        return []
    parsed = _from_json(text) or _from_text(text)
    strategies, fragments = parsed
    records: list[ExperienceRecord] = []
    seen: set[str] = set()
    for lesson in strategies:
        s = _clean(lesson.text)
        if len(s) < _MIN_STRATEGY_CHARS or s.upper().startswith("NONE") or s.lower() in seen:
            continue
        seen.add(s.lower())
        if len(s) > _MAX_STRATEGY_CHARS:
            s = s[:_MAX_STRATEGY_CHARS].rsplit(" ", 1)[0] + " ..."
        records.append(
            ExperienceRecord(
                kind="strategy",
                namespace=namespace,
                domain=domain,
                text=s,
                cautionary=lesson.cautionary,
                when_to_use=lesson.when[:_MAX_STRATEGY_CHARS],
                when_not_to_use=lesson.not_when[:_MAX_STRATEGY_CHARS],
                source=source,
                score=score,
                verified=verified,
            )
        )
        if len(records) >= max_strategies:
            break
    kept_code = 0
    for purpose, code in fragments:
        if kept_code >= max_code:
            break
        body, tests = split_tests(code.strip("\n"))
        if not body.strip() or not _python_ok(body):
            continue
        signature = _signature(body)
        description = _clean(purpose) or (f"helper {signature}" if signature else "code fragment")
        records.append(
            ExperienceRecord(
                kind="code",
                namespace=namespace,
                domain=domain,
                text=description,
                code=body,
                tests=tests,
                signature=signature,
                solution=problem,
                source=source,
                score=score,
                verified=verified,
            )
        )
        kept_code += 1
    return records


def problem_record(
    problem: str,
    solution: str,
    answer: str,
    *,
    namespace: str = "default",
    domain: str = "general",
    source: str = "solve",
    score: float | None = None,
    verified: bool = False,
) -> ExperienceRecord:
    """The ``problem`` record a successful solve writes back (its best, verified trajectory)."""
    return ExperienceRecord(
        kind="problem",
        namespace=namespace,
        domain=domain,
        text=problem.strip(),
        solution=solution.strip(),
        answer=answer.strip(),
        source=source,
        score=score,
        verified=verified,
    )


def split_tests(code: str) -> tuple[str, list[str]]:
    """A fragment without its top-level ``assert`` statements, and those statements (its tests).

    Code that does not parse is returned whole, with no tests.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code, []
    lines = code.splitlines()
    tests: list[str] = []
    drop: set[int] = set()
    for node in tree.body:
        if isinstance(node, ast.Assert) and node.end_lineno is not None:
            tests.append("\n".join(lines[node.lineno - 1 : node.end_lineno]).strip())
            drop.update(range(node.lineno - 1, node.end_lineno))
    body = "\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")
    return body, tests


def claims_a_result(code: str, test: str) -> bool:
    """Whether `test` asserts what a function or class defined in `code` returns on given inputs:
    an ``assert`` comparing a call of it with ``==`` (or ``abs(call - x) < eps``), not merely that
    the call is truthy."""
    try:
        defined = {
            n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        node = ast.parse(test).body[0]
    except (SyntaxError, ValueError, IndexError):
        return False
    if not isinstance(node, ast.Assert) or not isinstance(node.test, ast.Compare):
        return False
    calls = {sub.func.id for sub in ast.walk(node.test) if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)}
    return bool(calls & defined) and all(isinstance(op, ast.Eq | ast.Lt | ast.LtE) for op in node.test.ops)
