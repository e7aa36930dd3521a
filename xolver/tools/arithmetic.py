"""Exact arithmetic checks: "combine these numbers to reach the target" answers (Game of 24 and its
kin), and answers to questions that are nothing but an arithmetic expression ("What is 17 * 23?").

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

__all__ = [
    "arithmetic_question",
    "arithmetic_slips",
    "asks_for_expression",
    "check_expression",
    "check_value",
    "number_target",
]

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


_EXPRESSION_ASKED = re.compile(r"\bexpression\b|\beach\b.{0,40}?\bonce\b|\bexactly once\b", re.IGNORECASE | re.DOTALL)


def asks_for_expression(problem: str) -> bool:
    """Whether a "use these numbers to obtain N" problem says in so many words that the answer is an
    expression of them ("Give the expression", "use each number exactly once"), so that a bare
    number cannot answer it. "Use numbers 1, 2, 3 and 4 to make 10." does not say so."""
    return number_target(problem) is not None and _EXPRESSION_ASKED.search(problem) is not None


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


# "What is 17 * 23?", "Compute (3 + 4) * 5.", "Evaluate $2^{10} - 1$": a lead phrase, then only an expression.
_LEAD = re.compile(
    r"^\s*(?:(?:what\s+is|what's|how\s+much\s+is|compute|calculate|evaluate|simplify|find)"
    r"(?:\s+the\s+value\s+of)?\s*:?\s*)?",
    re.IGNORECASE,
)
_EXPRESSION_CHARS = re.compile(r"^[\d\s.+\-*/^()×÷·−]+$")
_MAX_EXPONENT = 64
_MAX_DIGITS = 1000


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1 or abs(exponent) > _MAX_EXPONENT:
        raise ValueError("only whole exponents up to 64 are evaluated exactly")
    if base == 0 and exponent < 0:
        raise ZeroDivisionError("zero to a negative power")
    return base ** int(exponent)


def _value(node: ast.AST) -> Fraction:
    """Exact value of a numbers-only expression: + - * / ** and unary minus, nothing else."""
    if isinstance(node, ast.Expression):
        return _value(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        # A decimal literal is read as written ("0.1" is 1/10), not as its binary float.
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left), _value(node.right)
        match node.op:
            case ast.Add():
                result = left + right
            case ast.Sub():
                result = left - right
            case ast.Mult():
                result = left * right
            case ast.Div():
                if right == 0:
                    raise ZeroDivisionError("division by zero")
                result = left / right
            case ast.Pow():
                result = _power(left, right)
            case _:
                raise ValueError("only + - * / and powers are evaluated")
        if len(str(result.numerator)) + len(str(result.denominator)) > _MAX_DIGITS:
            raise ValueError("the exact value is too large to check")
        return result
    raise ValueError("only numbers and + - * / ^ are evaluated")


def _parse(text: str) -> Fraction:
    expression = _clean(text).replace("^", "**")
    return _value(ast.parse(expression, mode="eval"))


def arithmetic_question(problem: str) -> tuple[str, Fraction] | None:
    """The expression and its exact value when the whole problem asks for the value of a closed
    arithmetic expression, else None.

    Only numbers, ``+ - * / ^`` (and their typeset forms) and brackets, with an optional lead such as
    "What is" or "Compute": anything else (words, variables, units) means the problem is about more
    than the expression, and nothing is claimed.

    Example:
        >>> arithmetic_question("What is 17 * 23?")
        ('17 * 23', Fraction(391, 1))
    """
    text = problem.strip()
    text = _LEAD.sub("", text, count=1).strip()
    text = text.strip("$").strip()
    text = re.sub(r"[?.=\s]+$", "", text).strip().strip("$").strip()
    if "=" in text:
        return None  # an equation or a claim, not a value to compute
    text = _clean(text)  # LaTeX operators and fractions to plain ones: "\frac{3}{4} \cdot 8" is "((3)/(4)) * 8"
    if not text or not _EXPRESSION_CHARS.match(text) or not re.search(r"\d\)*\s*[-+*/^]\s*\(*[\d-]", text):
        return None
    try:
        return text, _parse(text)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def check_value(answer: str, expression: str, value: Fraction) -> CheckResult:
    """Whether `answer` is the exact `value` of `expression` (a decimal within 1e-9 of it counts).

    Returns ``error`` when the answer is not a number (nothing is claimed about it).
    """
    try:
        given = _parse(answer.replace(",", ""))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return CheckResult(verdict="error", detail=f"{answer!r} is not a number")
    shown = str(value) if value.denominator == 1 else f"{value} (= {float(value):.10g})"
    if given == value or abs(given - value) <= Fraction(1, 10**9) * max(Fraction(1), abs(value)):
        return CheckResult(verdict="holds", detail=f"{expression} = {shown} exactly")
    return CheckResult(
        verdict="fails", detail=f"{expression} = {shown} exactly, not {answer}", counterexample={"value": str(value)}
    )


# --- Arithmetic slips in a written chain of thought ------------------------------------------------

_TYPESET = (
    ("\\times", "*"),
    ("\\cdot", "*"),
    ("×", "*"),
    ("·", "*"),
    ("∗", "*"),
    ("\\div", "/"),
    ("÷", "/"),
    ("−", "-"),
    ("\\$", " "),
    ("$", " "),
    ("\\(", " "),
    ("\\)", " "),
    ("\\[", " "),
    ("\\]", " "),
    ("\\left", ""),
    ("\\right", ""),
)
_FRAC = re.compile(r"\\d?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES_X = re.compile(r"(?<=\d)\s*[xX]\s*(?=\(*\d)")
_BOLD = re.compile(r"\*\*(?!\s*\d)|(?<!\d)(?<!\d\s)\*\*")
_TAIL = re.compile(r"[\d .+\-*/^()\t]*$")
_HEAD = re.compile(r"^[\d .+\-*/^()\t]*")
_FIRST_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")
_BINARY_OP = re.compile(r"[\d)]\s*[-+*/^]\s*[(\d]")
_BEFORE_TAIL = " \t\n:;,([{="


def _normalised(text: str) -> str:
    for old, new in _TYPESET:
        text = text.replace(old, new)
    while True:  # nested fractions: innermost first
        folded = _FRAC.sub(r"((\1)/(\2))", text)
        if folded == text:
            break
        text = folded
    text = _BOLD.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    return _TIMES_X.sub(" * ", text)


def _exact(expression: str) -> Fraction | None:
    try:
        return _value(ast.parse(expression.replace("^", "**"), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError):
        return None


def _close(value: Fraction, written: str) -> bool:
    """`written` is `value`, or `value` rounded to as many decimals as it shows (to a whole number
    when it shows none: "10 / 3 = 3" is how chains write "3 full boxes")."""
    claimed = Fraction(written)
    if claimed == value:
        return True
    if "." not in written:
        return value.denominator != 1 and abs(value - claimed) < 1
    decimals = len(written.split(".")[1])
    return abs(value - claimed) <= Fraction(1, 2 * 10**decimals) + Fraction(1, 10**12)


def arithmetic_slips(text: str, *, limit: int = 3) -> list[str]:
    """The written calculations in `text` that are false in exact arithmetic, as "17 * 23 is 391, not 381".

    Only a statement of the form ``<numbers and + - * / ^> = <number>`` is read (the typeset forms of
    the operators, LaTeX fractions, thousands separators and currency signs are understood); anything
    with a word, a variable, a percent sign or a unit inside the left side is skipped, so an algebra
    step ("2x + 3 = 7") is never called a slip. A result rounded to the decimals it shows, or to a
    whole number, is not a slip, and neither is a chain "3 + 4 = 7 + 2 = 9". Nothing is executed.

    Example:
        >>> arithmetic_slips("She has 3 * 4 = 12 apples and 12 + 5 = 18 pears.")
        ['12 + 5 is 17, not 18']
    """
    text = _normalised(text)
    slips: list[str] = []
    for match in re.finditer(r"(?<![=<>!])=(?!=)", text):
        before, after = text[: match.start()], text[match.end() :]
        tail = _TAIL.search(before)
        if tail is None:
            continue
        # "... is 12. 3 * 4 = 12": a sentence's full stop ends what the calculation can be.
        found = re.split(r"\.\s", tail.group())[-1]
        start = match.start() - len(found.lstrip())  # where the calculation's first character is
        left = found.strip()
        if not left or not (left[0].isdigit() or left[0] == "("):
            continue  # "2x + 3", "-3 + 5", "^2 + 1": the expression began before what we can read
        if start > 0 and before[start - 1] not in _BEFORE_TAIL:
            continue  # "x2 + 3": glued to a word or a variable
        while left.count("(") > left.count(")") and left.startswith("("):
            left = left[1:].lstrip()  # "(so 3 + 4 = 7)": the bracket opened a remark
        if not _BINARY_OP.search(left):
            continue  # "x = 5", "total = 12": nothing is calculated
        value = _exact(left)
        if value is None:
            continue
        first = _FIRST_NUMBER.match(after)
        if first is None:
            continue
        rest = after[first.end() :]
        if rest and (rest[0].isalpha() or rest[0] in "%^_{"):
            continue  # "= 12x", "= 20%", "= 3^2": not a plain number
        head = _HEAD.match(after)
        whole = head.group().strip().rstrip(".").strip() if head else ""
        whole_value = _exact(whole) if whole else None
        if _close(value, first.group(1)) or (whole_value is not None and whole_value == value):
            continue
        shown = str(value) if value.denominator == 1 else f"{float(value):.6g}"
        slips.append(f"{left} is {shown}, not {first.group(1)}")
        if len(slips) >= limit:
            break
    return slips
