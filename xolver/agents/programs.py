"""Program-of-thought: reading the program in a reply, and the answer a program printed.

Used by the program seats (`xolver.agents.solver`) and the judge's blind check (`xolver.agents.judge`).
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from typing_extensions import assert_never

from xolver.agents.parsing import extract_boxed, extract_code_block, last_number
from xolver.tools.toolbox import ToolBox

if TYPE_CHECKING:
    from xolver.config import AnswerFormat

__all__ = [
    "PROGRAM_FORMAT",
    "latex_answer",
    "print_hint",
    "program_answer",
    "python_block",
    "restated",
    "restated_feedback",
]

# No "Thought:" section: asked for one, Qwen2.5-Coder-0.5B wrote its whole solution as prose and no
# program on 4 of the first 20 GSM8K problems (0 of 50 without it; docs/benchmarks.md).
PROGRAM_FORMAT = "Reply with the program only, in one ```python block."


def print_hint(answer_format: AnswerFormat, *, expression: bool = False) -> str:
    """What a program seat (or the judge's blind check) is told to print, by answer format; for a
    problem answered by an expression (Game of 24), a search that prints the expression itself."""
    if expression:
        # Its value is given by the problem: printed, it would be a bare target, which answers nothing.
        # A search is what a program adds on a puzzle: told only "print the expression", Qwen2.5-Coder-0.5B
        # printed a computed number on all 21 of the first Game of 24 problems (docs/benchmarks.md).
        return (
            "The answer is an expression, not a number: let the program search. Loop over every order of "
            "the numbers (itertools.permutations) and every choice of operators between them "
            "(itertools.product), build each expression as a string with parentheses, and print the "
            "first one whose eval() equals the target: print the expression text, not its value. "
        )
    match answer_format:
        case "integer":
            # Not "print a plain integer": told that, Qwen2.5-Coder-0.5B casts to int too early (its
            # greedy program fell from 5 to 2 right on the first 10 GSM8K problems). A non-integer it
            # prints is refused by `program_answer` and sent back for repair instead.
            return "Print the exact value, not a rounded decimal. "
        case "boxed":
            return (
                "Print exact values (fractions, radicals, pi via sympy, e.g. print(sympy.nsimplify(x))), "
                "not rounded decimals. "
            )
        case "auto" | "choice" | "code" | "text":
            return "Print exact values, not rounded decimals, where that matters. "
        case other:
            assert_never(other)


# Numbers, brackets and at least one operator between operands: "(11 - 5) * 8 / 2".
_EXPRESSION = re.compile(r"[(\s]*\d+(?:\.\d+)?[)\s]*(?:[-+*/×÷][(\s]*\d+(?:\.\d+)?[)\s]*)+")

# Two words of three or more letters in a row: a sentence, not an expression (sqrt(2), 3*pi, x + 1).
_PROSE = re.compile(r"[A-Za-z]{3,}[,;:]?\s+[A-Za-z]{3,}")
_ANSWER_PREFIX = re.compile(r"^(?:final\s+answer|the\s+answer\s+is|answer)\s*[:=]?\s*", re.IGNORECASE)


def program_answer(output: str, answer_format: AnswerFormat, *, expression: bool = False) -> str | None:
    """The answer a program printed: its last non-empty output line, cleaned.

    ``"Answer: 18"`` -> ``"18"``; ``"102.0"`` -> ``"102"``; a float's binary noise is rounded off
    (``0.30000000000000004`` -> ``"0.3"``); integer tasks keep the last number of the line. With
    `expression` (the problem is answered by an expression, Game of 24) the arithmetic expression in
    the line is the answer: ``"(11 - 5) * 8 / 2 = 24"`` -> ``"(11 - 5) * 8 / 2"``; a line with none
    gives what it gives otherwise (a bare number, which the exact check then does not accept).
    """
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return None
    line = _ANSWER_PREFIX.sub("", lines[-1]).strip().strip("$").strip()
    if expression:
        found = [m.group(0).strip() for m in _EXPRESSION.finditer(line)]
        if found:
            return max(found, key=len)
    if line.count("=") == 1 and "==" not in line:
        # "17 * 23 = 391", "x = 5": the value is what follows the sign.
        line = line.split("=")[1].strip() or line
    boxed = extract_boxed(line)
    if boxed:
        line = boxed[-1]
    if not line:
        return None
    if answer_format == "integer":
        # An integer task's answer is an integer: 7.2 is a wrong program, not an answer to vote for.
        number = last_number(line)
        tidy = _tidy_number(number) if number else None
        return tidy if tidy is not None and re.fullmatch(r"-?\d+", tidy) else None
    if re.fullmatch(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", line):
        return _tidy_number(line)
    if _PROSE.search(line):
        # "Janet makes 38.00 dollars a day." is a sentence around the value, not a value.
        number = last_number(line)
        return _tidy_number(number) if number else None
    return line


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _same_number(text: str, value: float) -> bool:
    try:
        return abs(float(text) - value) <= 1e-9 * max(1.0, abs(value))
    except ValueError:
        return False


def restated(code: str, answer: str, problem: str) -> bool:
    """Whether a program printed a number it was written with instead of computing it.

    True when the numeric `answer` is a literal of the code (``print(381)``, ``x = 381``, or text such
    as ``print("17 * 23 = 381")``) and the problem does not give that number. Such a program checks
    nothing: SmolLM2-135M's blind check for "What is 17 * 23?" printed "17 * 23 = 381" from a string.
    Comments do not count (they are not in the syntax tree); code that does not parse is not judged here.
    """
    if not _NUMBER.fullmatch(answer.strip()):
        return False
    value = float(answer)
    if any(_same_number(n, value) for n in _NUMBER.findall(problem.replace(",", ""))):
        return False
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
            continue
        if isinstance(node.value, int | float) and _same_number(str(node.value), value):
            return True
        if isinstance(node.value, str) and any(_same_number(n, value) for n in _NUMBER.findall(node.value)):
            return True
    return False


def restated_feedback(answer: str) -> str:
    """The repair request for a program that `restated` its answer."""
    return (
        f"Your program printed {answer}, a number written into the program, not one it computed. Compute the "
        "answer from the problem's quantities (one variable per quantity) and print it. Reply with the corrected "
        "program in one ```python block."
    )


_TO_LATEX = """
import sympy as _sp
try:
    _v = _sp.sympify({text!r}, rational=False)
    print(_sp.latex(_v))
except Exception:
    print({text!r})
"""


async def latex_answer(toolbox: ToolBox, session: int, answer: str, answer_format: AnswerFormat) -> str:
    """A program's printed answer in LaTeX (``pi/2`` -> ``\\frac{\\pi}{2}``), so it votes with and is
    graded like the reasoning seats' boxed answers. Numbers and integer tasks pass through. The
    conversion runs in the sandbox: the text came from an untrusted program, and sympify evaluates.
    """
    if answer_format in {"integer", "choice", "code", "text"} or re.fullmatch(r"-?\d+(?:\.\d+)?", answer):
        return answer
    if "\\" in answer or len(answer) > 200:
        return answer  # already LaTeX, or not a value
    call = await toolbox.run_python(session, _TO_LATEX.format(text=answer))
    converted = call.output.strip().splitlines()[-1].strip() if call.ok and call.output.strip() else ""
    return converted or answer


def _tidy_number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.10g}"


def python_block(text: str) -> str | None:
    """The Python code an agent wants run: the last ```python (or unlabelled) fenced block."""
    if "```" not in text:
        return None
    code = extract_code_block(text, language="python")
    if code is None or not code.strip():
        return None
    return _called(code)


def _called(code: str) -> str:
    """`code`, with a call of its one argument-less function appended when nothing calls or prints it.

    Small models often write ``def solution(): ... return x`` and stop: the program defines the
    answer and prints nothing. The call prints what the function returns (unless that is None).
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code  # the sandbox reports the error; the repair prompt shows it
    functions = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and not (node.args.args or node.args.posonlyargs or node.args.kwonlyargs)
    ]
    acts = any(isinstance(node, (ast.Expr, ast.If, ast.For, ast.While, ast.With, ast.Try)) for node in tree.body)
    if len(functions) != 1 or acts:
        return code
    name = functions[0]
    return f"{code.rstrip()}\n\n_result = {name}()\nif _result is not None:\n    print(_result)\n"
