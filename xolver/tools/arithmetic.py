"""Exact checks of "combine these numbers to reach the target" answers (Game of 24 and its kin).

The candidate expression is parsed with Python's `ast` (only numbers, ``+ - * /`` and brackets are
accepted, so nothing is executed) and evaluated in exact rational arithmetic (`fractions.Fraction`):
``8 / (3 - 8 / 3)`` is exactly 24, with no floating-point doubt. A failure says exactly what is wrong
(the value it reaches, a number used twice or left out), which is the counterexample the model sees.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from fractions import Fraction

from xolver.tools.checks import CheckResult

__all__ = ["check_expression", "number_target"]

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_TASK = re.compile(
    r"(?:numbers?|digits?)\s*:?\s*\[?(?P<nums>\d+(?:\s*(?:,|\band\b|\s)\s*\d+){2,7})\]?.{0,200}?"
    r"(?:obtain|make|reach|get|equals?|evaluates? to|result in|target(?: of)?)\s*:?\s*(?P<target>-?\d+)",
    re.IGNORECASE | re.DOTALL,
)


def number_target(problem: str) -> tuple[list[int], int] | None:
    """The given numbers and the target of a "use these numbers to obtain N" problem, or None.

    Example:
        >>> number_target("Use the numbers 4 4 7 10 and + - * / to obtain 24.")
        ([4, 4, 7, 10], 24)
    """
    m = _TASK.search(problem)
    if m is None:
        return None
    return [int(n) for n in re.findall(r"\d+", m.group("nums"))], int(m.group("target"))


def _clean(answer: str) -> str:
    text = re.sub(r"\\boxed", "", answer.strip().strip("$"))
    for old, new in (("\\times", "*"), ("\\cdot", "*"), ("×", "*"), ("·", "*"), ("\\div", "/"), ("÷", "/")):
        text = text.replace(old, new)
    text = re.sub(r"\\(left|right)", "", text).replace("\\(", "(").replace("\\)", ")")
    text = text.replace("{", "(").replace("}", ")").replace("−", "-")
    text = re.sub(r"\\frac\s*\(([^()]*)\)\s*\(([^()]*)\)", r"((\1)/(\2))", text)
    # "(11 - 5) * 4 = 24": keep the expression side.
    sides = [s for s in re.split(r"==?", text) if s.strip()]
    if len(sides) > 1:
        with_ops = [s for s in sides if re.search(r"[-+*/]", s)]
        text = with_ops[0] if with_ops else sides[0]
    return text.strip()


def _evaluate(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, used)
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        used.append(node.value)
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _evaluate(node.left, used), _evaluate(node.right, used)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if right == 0:
            raise ZeroDivisionError("division by zero")
        return left / right
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        raise ValueError("a unary minus is not one of the allowed operations")
    raise ValueError(f"only whole numbers, + - * / and brackets are allowed, not {ast.dump(node)[:40]}")


def check_expression(answer: str, numbers: list[int], target: int) -> CheckResult:
    """Whether `answer` uses each of `numbers` exactly once with + - * / and equals `target` exactly.

    Returns:
        ``holds``, ``fails`` with the reason (its exact value, or the numbers it misuses) in
        `CheckResult.detail`, or ``error`` when the answer is not such an expression.
    """
    text = _clean(answer)
    try:
        tree = ast.parse(text, mode="eval")
        used: list[int] = []
        value = _evaluate(tree, used)
    except ZeroDivisionError:
        return CheckResult(verdict="fails", detail=f"{text} divides by zero")
    except (SyntaxError, ValueError) as e:
        return CheckResult(verdict="error", detail=f"{text!r} is not an arithmetic expression: {e}")
    if Counter(used) != Counter(numbers):
        extra = sorted((Counter(used) - Counter(numbers)).elements())
        missing = sorted((Counter(numbers) - Counter(used)).elements())
        parts = [f"uses {extra} not given" if extra else "", f"leaves out {missing}" if missing else ""]
        detail = f"{text} must use each of {numbers} exactly once: it " + " and ".join(p for p in parts if p)
        return CheckResult(verdict="fails", detail=detail, counterexample={"numbers used": str(sorted(used))})
    if value != target:
        shown = str(value) if value.denominator == 1 else f"{value} (= {float(value):.6g})"
        return CheckResult(
            verdict="fails", detail=f"{text} = {shown}, not {target}", counterexample={"value": str(value)}
        )
    return CheckResult(verdict="holds", detail=f"{text} = {target} exactly, using each of {numbers} once")
