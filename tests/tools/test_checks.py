"""SymPy and Z3 checks, run inside the sandbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from xolver.errors import UserError
from xolver.tools.checks import (
    SympyCheckArgs,
    SympyCheckTool,
    Z3CheckArgs,
    Z3CheckTool,
    sympy_check,
    z3_check,
)
from xolver.tools.sandbox import PythonSandbox

pytestmark = pytest.mark.skipif(os.name != "posix", reason="checks run in the POSIX sandbox")


@pytest.fixture
async def sandbox() -> AsyncIterator[PythonSandbox]:
    async with PythonSandbox(pool_size=1) as sb:
        yield sb


async def test_sympy_equalities(sandbox: PythonSandbox) -> None:
    assert (await sympy_check("(x+1)**2", "x^2 + 2x + 1", sandbox=sandbox)).verdict == "holds"
    assert (await sympy_check("sin(x)^2 + cos(x)^2 = 1", sandbox=sandbox)).verdict == "holds"
    assert (await sympy_check(r"\frac{1}{2} + \frac{1}{3}", "5/6", sandbox=sandbox)).verdict == "holds"
    refuted = await sympy_check("(x+1)**2", "x**2 + 1", sandbox=sandbox)
    assert refuted.verdict == "fails"
    assert refuted.counterexample is not None and set(refuted.counterexample) == {"x"}


async def test_sympy_values_satisfy_equations(sandbox: PythonSandbox) -> None:
    assert (await sympy_check("x**2 - 5*x + 6 = 0", values={"x": "3"}, sandbox=sandbox)).verdict == "holds"
    wrong = await sympy_check("x**2 - 5*x + 6 = 0", values={"x": "4"}, sandbox=sandbox)
    assert wrong.verdict == "fails" and wrong.counterexample == {"x": "4"}
    system = await sympy_check("x + y = 3", equations=["x - y = 1"], values={"x": "2", "y": "1"}, sandbox=sandbox)
    assert system.verdict == "holds"


async def test_sympy_parse_errors_and_caller_mistakes(sandbox: PythonSandbox) -> None:
    assert (await sympy_check("x +* (", "1", sandbox=sandbox)).verdict == "error"
    with pytest.raises(UserError):
        await sympy_check("x + 1", sandbox=sandbox)
    with pytest.raises(UserError):
        await sympy_check("x + 1", values={"x": "1"}, sandbox=sandbox)


async def test_sympy_timeout_is_unknown(sandbox: PythonSandbox) -> None:
    # parse_expr evaluates Python: a hostile "expression" is still only a sandboxed snippet.
    result = await sympy_check("__import__('time').sleep(100)", "1", timeout=1, sandbox=sandbox)
    assert result.verdict == "unknown" and "did not finish" in result.detail


async def test_z3_smtlib(sandbox: PythonSandbox) -> None:
    proved = await z3_check("(declare-const x Int) (assert (>= (* x x) 0))", sandbox=sandbox)
    assert proved.verdict == "holds"
    refuted = await z3_check("(declare-const x Int) (assert (> (* x x) x))", sandbox=sandbox)
    assert refuted.verdict == "fails"
    assert refuted.counterexample is not None and refuted.counterexample["x"] in ("0", "1")
    assert (await z3_check("(assert (> y", sandbox=sandbox)).verdict == "error"


async def test_z3_python_expressions(sandbox: PythonSandbox) -> None:
    ok = await z3_check("Implies(x > 2, x * x > 4)", language="python", variables={"x": "Int"}, sandbox=sandbox)
    assert ok.verdict == "holds"
    hyp = await z3_check(
        "x + y == 10",
        language="python",
        variables={"x": "Int", "y": "Int"},
        hypotheses=["x == 3", "y == 7"],
        sandbox=sandbox,
    )
    assert hyp.verdict == "holds"
    bad = await z3_check("x * x != 2", language="python", variables={"x": "Real"}, sandbox=sandbox)
    assert bad.verdict == "fails" and bad.counterexample and "x" in bad.counterexample
    # Only z3's connectives are in scope: no builtins to escape with.
    escape = await z3_check("__import__('os').system('id')", language="python", sandbox=sandbox)
    assert escape.verdict == "error" and "NameError" in escape.detail
    with pytest.raises(UserError):
        await z3_check("x", language="python", variables={"x": "Float"}, sandbox=sandbox)  # type: ignore[dict-item]


async def test_checks_as_tools(sandbox: PythonSandbox) -> None:
    tool = SympyCheckTool(sandbox)
    result = await tool.run(SympyCheckArgs(expr="2*(x+1)", other="2x+2"))
    assert result.ok and result.output.startswith("holds")
    result = await tool.run(SympyCheckArgs(expr="x + 1"))
    assert not result.ok and result.error

    z3_tool = Z3CheckTool(sandbox)
    result = await z3_tool.run(Z3CheckArgs(claim="p or not p", language="python", variables={"p": "Bool"}))
    assert not result.ok  # Python's `or` is not z3's Or: the claim is not a proposition or errors
    result = await z3_tool.run(Z3CheckArgs(claim="Or(p, Not(p))", language="python", variables={"p": "Bool"}))
    assert result.ok and result.output.startswith("holds")
    result = await z3_tool.run(Z3CheckArgs(claim="(declare-const a Int) (assert (< a 5))"))
    assert result.ok and result.output.startswith("fails") and "counterexample: a =" in result.output
