from __future__ import annotations

import pytest

from xolver.agents.judge import parse_verdict
from xolver.agents.parsing import (
    extract_answer,
    extract_boxed,
    extract_choice,
    extract_code_block,
    last_number,
    normalize_answer,
    parse_score,
)
from xolver.agents.planner import choose, pad_roles, parse_plan
from xolver.agents.solver import parse_solution
from xolver.agents.templates import PromptError, render
from xolver.config import AnswerFormat


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{42}.", ["42"]),
        (r"\boxed{\frac{1}{2}} then \boxed{3}", [r"\frac{1}{2}", "3"]),
        (r"\boxed{x^{2}+\sqrt{y_{1}}}", [r"x^{2}+\sqrt{y_{1}}"]),
        (r"\boxed{12", []),
        (r"\boxed 5 apples", ["5"]),
        (r"\fbox{7}", ["7"]),
        ("no box", []),
    ],
)
def test_extract_boxed_handles_nesting_and_garbage(text: str, expected: list[str]) -> None:
    assert extract_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "fmt", "answer", "source"),
    [
        (r"blah \boxed{1} then final \boxed{391}", "auto", "391", "boxed"),
        ("Final answer: 391.", "auto", "391", "final_line"),
        ("**Final Answer:** $391$", "auto", "391", "final_line"),
        ("The answer is 1,234 dollars", "integer", "1234", "final_line"),
        ("we get 17 then 391", "auto", "391", "last_number"),
        ("", "auto", None, "none"),
        ("   ", "auto", None, "none"),
        ("no digits at all", "auto", None, "none"),
        ("The answer is (C)", "choice", "C", "choice"),
        ("```python\nprint(1)\n```", "code", "print(1)", "code_block"),
        ("```python\ndef f():\n    return 1\n", "code", "def f():\n    return 1", "code_block"),
    ],
)
def test_extract_answer(text: str, fmt: str, answer: str | None, source: str) -> None:
    assert extract_answer(text, fmt) == (answer, source)


def test_text_inside_code_is_not_taken_for_the_answer() -> None:
    reply = 'Let me compute.\n```python\nn = 4 * 1\nprint(f"The answer is {n} pens")\n```'
    assert extract_answer(reply) == (None, "none")
    assert extract_answer(reply + "\nSo the answer is 4.") == ("4", "final_line")
    assert extract_answer("```python\nx = 1\n```\n\\boxed{5}") == ("5", "boxed")


def test_small_helpers() -> None:
    assert last_number("from -3.5 to 1,000") == "1000"
    assert extract_choice(r"\boxed{B}") == "B"
    assert extract_code_block("```\na\n```\n```py\nb\n```", language="python") == "b"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1,000", "1000.0"),
        ("$1000$", "1000"),
        (r"\dfrac12", "0.5"),
        (r"\frac{1}{2}", "1/2"),
        ("x = 4", "4"),
        ("5 cm", "5"),
    ],
)
def test_normalize_answer_equates_surface_forms(a: str, b: str) -> None:
    assert normalize_answer(a) == normalize_answer(b)


def test_normalize_answer_keeps_different_answers_apart() -> None:
    assert normalize_answer("33") != normalize_answer("34")
    assert normalize_answer(None) == ""


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Score: 1", 1.0),
        ("SCORE: 0", 0.0),
        ("score = 0.75", 0.75),
        ("Score: 8/10", 0.8),
        ("Score: 80%", 0.8),
        ("Score: 9", 0.9),
        ("**Score:** 1", 1.0),
        ("Critique: fine.\n- Score: 0.5", 0.5),
        ("Score: correct", 1.0),
        ("Score: wrong.", 0.0),
        ('{"critique": "ok", "score": 0.25}', 0.25),
        ("Critique: the second step is wrong.\nScore: 0", 0.0),
        # Prose is never a score: each of these once read as a verdict.
        ("I give it 7/10", None),
        ("The solution is incorrect.", None),
        ("This is correct.", None),
        ("The answer is not entirely correct.", None),
        ("Is it correct? No.", None),
        ("3/5 is wrong", None),
        ("Score: the candidate forgot the tax", None),
        ("", None),
        ("hmm", None),
    ],
)
def test_parse_score(text: str, score: float | None) -> None:
    assert parse_score(text) == score


def test_parse_verdict_reordered_sections() -> None:
    v = parse_verdict("Score: 0\nCritique: the sum in step 2 is wrong")
    assert v is not None and v.score == 0.0 and "step 2" in v.critique
    assert parse_verdict("nothing useful") is None


def test_parse_solution_missing_headers_and_extra_prose() -> None:
    out = parse_solution("Sure! Let me think. 17*23 is 391. So the answer is \\boxed{391}. Hope this helps!")
    assert out is not None and out.answer == "391" and out.thought == ""
    out = parse_solution("**Thought:** a\n\n**Response:** b\nFinal answer: \\boxed{7}")
    assert out is not None and (out.thought, out.response, out.answer) == ("a", "b\nFinal answer: \\boxed{7}", "7")
    assert parse_solution("") is None
    assert parse_solution("I do not know") is None


def test_parse_plan_variants() -> None:
    plan = parse_plan("Roles:\n1. **Algebraist**: symbols\n2. Checker - checks\n3) Modeler: models\nSelected: 3, 1")
    assert plan is not None
    assert [r.name for r in plan.drafted] == ["Algebraist", "Checker", "Modeler"]
    assert plan.selected == [2, 0]
    assert [r.name for r in choose(plan, 3)] == ["Modeler", "Algebraist", "Checker"]
    assert parse_plan("") is None
    assert parse_plan("I think we need experts.") is None


def test_pad_roles_fills_up_with_distinct_generic_roles() -> None:
    roles = pad_roles([], 10)
    assert len(roles) == 10 and len({r.name for r in roles}) == 10 and all(r.padded for r in roles)


def test_render_is_strict() -> None:
    assert "Algebraist" in render("solver_system", role="Algebraist", reason="", brief="B")
    with pytest.raises(PromptError, match="role"):
        render("solver_system", reason="", brief="B")
    # braces in values are not re-expanded
    assert "{{problem}}" in render("solver", experience="", problem="{{problem}}", tools="", format="F")


@pytest.mark.parametrize(
    ("output", "fmt", "answer"),
    [
        ("18\n", "integer", "18"),
        ("Answer: 18.0", "integer", "18"),
        ("step 1\nThe answer is 102.0\n", "auto", "102"),
        ("0.30000000000000004", "auto", "0.3"),
        ("pi/2", "boxed", "pi/2"),
        ("\\boxed{7}", "auto", "7"),
        ("", "auto", None),
        ("x = 5", "integer", "5"),
        ("17 * 17 = 391", "auto", "391"),
        ("a == b", "auto", "a == b"),
        # An integer task's answer is an integer: a fraction of one is a wrong program, not a vote.
        ("7.2", "integer", None),
        ("0.1260273973", "integer", None),
        # A sentence around the value is read for its value; an expression is kept.
        ("Janet makes 38.00 dollars every day.", "auto", "38"),
        ("Total cost: 1,234", "auto", "1234"),
        ("sqrt(2)/2", "auto", "sqrt(2)/2"),
    ],
)
def test_program_answer_reads_the_last_printed_line(output: str, fmt: AnswerFormat, answer: str | None) -> None:
    from xolver.agents.programs import program_answer

    assert program_answer(output, fmt) == answer


@pytest.mark.parametrize(
    ("output", "answer"),
    [
        ("(11 - 5) * 8 / 2 = 24", "(11 - 5) * 8 / 2"),
        ("24 = (11 - 5) * 8 / 2", "(11 - 5) * 8 / 2"),
        ("Found: 8*(11-5)/2\n", "8*(11-5)/2"),
        ("The expression is (2 + 5 - 8 + 11) * ...", "(2 + 5 - 8 + 11)"),
        ("24", "24"),  # no expression printed: the bare value, which the exact check does not accept
    ],
)
def test_an_expression_task_keeps_the_printed_expression_not_its_value(output: str, answer: str) -> None:
    from xolver.agents.programs import print_hint, program_answer

    assert program_answer(output, "text", expression=True) == answer
    assert program_answer("(11 - 5) * 8 / 2 = 24", "text") == "24"  # any other task: the value
    hint = print_hint("text", expression=True)
    assert "search" in hint and "expression text, not its value" in hint
    assert "search" not in print_hint("text")


def test_a_program_answer_becomes_latex_inside_the_sandbox() -> None:
    import asyncio

    from xolver.agents.programs import latex_answer
    from xolver.tools.toolbox import ToolBox

    async def convert() -> list[str]:
        box = ToolBox(timeout=20, max_seconds=60)
        try:
            return [
                await latex_answer(box, 0, "pi/2", "boxed"),
                await latex_answer(box, 0, "(3, pi/2)", "boxed"),
                await latex_answer(box, 0, "42", "boxed"),
                await latex_answer(box, 0, "pi/2", "integer"),
                # hostile text is evaluated in the sandbox, never in our process
                await latex_answer(box, 0, "__import__('os').getpid()", "boxed"),
            ]
        finally:
            await box.aclose()

    pi_half, pair, number, integer, hostile = asyncio.run(convert())
    assert (pi_half, number, integer) == ("\\frac{\\pi}{2}", "42", "pi/2")
    assert pair.replace("\\ ", "").replace(" ", "") == "\\left(3,\\frac{\\pi}{2}\\right)"
    assert hostile != str(__import__("os").getpid())


@pytest.mark.parametrize(
    ("code", "appended"),
    [
        # Defines the answer and stops: the call is appended, and prints what the function returns.
        ("def solution():\n    return 6 * 7\n", True),
        # Already called, printed, or guarded: left as written.
        ("def solution():\n    return 42\n\nprint(solution())\n", False),
        ("def solution():\n    return 42\n\nif __name__ == '__main__':\n    print(solution())\n", False),
        ("x = 6 * 7\nprint(x)\n", False),
        # Two candidate functions, or one that needs arguments: no guess.
        ("def a():\n    return 1\n\ndef b():\n    return 2\n", False),
        ("def solution(n):\n    return n\n", False),
        # Not Python: the sandbox reports the syntax error.
        ("def solution(:\n", False),
    ],
)
def test_python_block_calls_a_defined_but_uncalled_function(code: str, appended: bool) -> None:
    from xolver.agents.programs import python_block

    run = python_block(f"```python\n{code}```")
    assert run is not None and run.startswith(code.rstrip())
    assert (run.rstrip() != code.rstrip()) is appended
    if appended:
        namespace: dict[str, object] = {}
        printed: list[object] = []
        namespace["print"] = printed.append
        exec(run, namespace)
        assert printed == [42]


@pytest.mark.parametrize(
    ("code", "answer", "problem", "restates"),
    [
        ('print("17 * 23 = 381")', "381", "What is 17 * 23?", True),  # the number is text it wrote
        ("x = 381\nprint(x)", "381", "What is 17 * 23?", True),
        ("print(381.0)", "381", "What is 17 * 23?", True),
        ("print(17 * 23)", "391", "What is 17 * 23?", False),  # computed
        ('# 17 * 23 = 391\nprint(f"17 * 23 = {17 * 23}")', "391", "What is 17 * 23?", False),  # comments are not code
        ("n = 12\nprint(n)", "12", "She bought 12 eggs. How many eggs?", False),  # the problem gives it
        ("n = 1200\nprint(n)", "1200", "It costs 1,200 dollars. What does it cost?", False),
        ('print("x + 1")', "x + 1", "Simplify.", False),  # not a number: not judged here
        ("print(38", "38", "?", False),  # does not parse: not judged here
    ],
)
def test_a_program_restates_when_it_prints_a_number_it_was_written_with(
    code: str, answer: str, problem: str, restates: bool
) -> None:
    from xolver.agents.programs import restated

    assert restated(code, answer, problem) is restates
