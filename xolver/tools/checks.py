"""Symbolic checks of claims: `sympy_check` (algebra) and `z3_check` (arithmetic and logic).

Both parse model-written text, and sympy's parser evaluates Python, so both run inside the
`PythonSandbox` (never in our process), which also enforces their time limit: a ``simplify`` that
never ends is killed like any other snippet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xolver.errors import UserError
from xolver.tools.base import ToolResult
from xolver.tools.sandbox import PythonSandbox, SandboxLimits

__all__ = [
    "CheckResult",
    "SympyCheckArgs",
    "SympyCheckTool",
    "Verdict",
    "Z3CheckArgs",
    "Z3CheckTool",
    "sympy_check",
    "z3_check",
]

Verdict = Literal["holds", "fails", "unknown", "error"]
_MARK = "@@xolver-check@@"


class CheckResult(BaseModel):
    """The verdict of a check.

    Attributes:
        verdict: ``holds`` (proved), ``fails`` (refuted), ``unknown`` (could not decide in time),
            ``error`` (the claim could not be parsed or the checker failed).
        detail: a short human-readable explanation.
        counterexample: variable values refuting the claim, when one was found.
        seconds: wall time.
    """

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    detail: str = ""
    counterexample: dict[str, str] | None = None
    seconds: float = 0.0

    def to_tool_result(self) -> ToolResult:
        """The result as an agent reads it (a refutation is a successful check)."""
        text = f"{self.verdict}: {self.detail}"
        if self.counterexample:
            text += "\ncounterexample: " + ", ".join(f"{k} = {v}" for k, v in self.counterexample.items())
        return ToolResult(
            ok=self.verdict in ("holds", "fails"),
            output=text,
            error=None if self.verdict in ("holds", "fails") else self.detail,
            seconds=self.seconds,
        )


# Runs inside the sandbox. Inputs arrive as a JSON literal; the verdict leaves as one marked line.
_SYMPY_SCRIPT = r"""
import json, random
import sympy as sp
from sympy.parsing.sympy_parser import (parse_expr, standard_transformations,
    implicit_multiplication_application, convert_xor)
ARGS = json.loads(__ARGS__)
TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)

def parse(text):
    text = text.strip()
    if text.startswith('$') and text.endswith('$'):
        text = text.strip('$')
    if '\\' in text:
        try:  # shipped with math-verify; sympy's own LaTeX parser needs antlr4
            from latex2sympy2_extended import latex2sympy
            return latex2sympy(text)
        except ImportError:
            from sympy.parsing.latex import parse_latex
            return parse_latex(text)
    return parse_expr(text, transformations=TRANSFORMS, evaluate=True)

def sides(text):
    for op in ('==', '='):
        if op in text:
            left, right = text.split(op, 1)
            return parse(left), parse(right)
    raise ValueError(f'not an equation: {text!r}')

def numeric_counterexample(diff):
    symbols = sorted(diff.free_symbols, key=str)
    rng = random.Random(0)
    for _ in range(40):
        point = {s: sp.Rational(rng.randint(-40, 40), rng.randint(1, 9)) for s in symbols}
        try:
            value = complex(diff.subs(point).evalf(30))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if abs(value) > 1e-9 and value == value:
            return {str(s): str(v) for s, v in point.items()}
    return None

def check():
    if ARGS['values'] is not None:
        values = {sp.Symbol(k): parse(v) for k, v in ARGS['values'].items()}
        failed = []
        for eq in ARGS['equations']:
            left, right = sides(eq)
            diff = sp.simplify((left - right).subs(values))
            if diff != 0:
                failed.append(f'{eq}: left - right = {diff}')
            elif diff.free_symbols:
                return {'verdict': 'unknown', 'detail': f'{eq} still has free symbols'}
        if failed:
            return {'verdict': 'fails', 'detail': '; '.join(failed),
                    'counterexample': {k: v for k, v in ARGS['values'].items()}}
        return {'verdict': 'holds', 'detail': 'every equation is satisfied'}
    a, b = parse(ARGS['expr']), parse(ARGS['other'])
    if isinstance(a, sp.Basic) and isinstance(b, sp.Basic) and hasattr(a, 'equals'):
        diff = sp.simplify(a - b)
        if diff == 0:
            return {'verdict': 'holds', 'detail': f'{a} - ({b}) simplifies to 0'}
        example = numeric_counterexample(diff)
        if example is not None or not diff.free_symbols:
            return {'verdict': 'fails', 'detail': f'{a} - ({b}) = {diff}', 'counterexample': example}
        if a.equals(b):
            return {'verdict': 'holds', 'detail': 'equal by sympy.equals'}
        return {'verdict': 'unknown', 'detail': f'could not decide whether {diff} is 0'}
    same = a == b
    return {'verdict': 'holds' if same else 'fails', 'detail': f'{a!r} vs {b!r}'}

try:
    result = check()
except Exception as e:
    result = {'verdict': 'error', 'detail': f'{type(e).__name__}: {e}'}
print(__MARK__ + json.dumps(result, default=str))
"""

_Z3_SCRIPT = r"""
import json
import z3
ARGS = json.loads(__ARGS__)

def check():
    solver = z3.Solver()
    solver.set('timeout', int(ARGS['timeout_ms']))
    if ARGS['language'] == 'smt2':
        assertions = z3.parse_smt2_string(ARGS['claim'])
        claim = z3.And(*assertions) if len(assertions) else z3.BoolVal(True)
        hyps = [z3.And(*z3.parse_smt2_string(h)) for h in ARGS['hypotheses']]
    else:
        sorts = {'Int': z3.Int, 'Real': z3.Real, 'Bool': z3.Bool}
        names = {name: getattr(z3, name) for name in (
            'And', 'Or', 'Not', 'Implies', 'If', 'Xor', 'Distinct', 'Sum', 'Product',
            'ForAll', 'Exists', 'IntVal', 'RealVal', 'BoolVal', 'Q', 'ToReal', 'ToInt', 'IsInt', 'Abs')}
        for var, sort in ARGS['variables'].items():
            names[var] = sorts[sort](var)
        def ev(text):
            return eval(compile(text, '<claim>', 'eval'), {'__builtins__': {}}, dict(names))
        claim = ev(ARGS['claim'])
        hyps = [ev(h) for h in ARGS['hypotheses']]
    if not z3.is_bool(claim):
        return {'verdict': 'error', 'detail': f'the claim is not a proposition: {claim}'}
    solver.add(*hyps)
    solver.add(z3.Not(claim))
    answer = solver.check()
    if answer == z3.unsat:
        return {'verdict': 'holds', 'detail': 'the negation of the claim is unsatisfiable'}
    if answer == z3.sat:
        model = solver.model()
        example = {str(d.name()): str(model[d]) for d in model.decls()}
        return {'verdict': 'fails', 'detail': 'z3 found values that refute the claim', 'counterexample': example}
    return {'verdict': 'unknown', 'detail': f'z3 answered unknown ({solver.reason_unknown()})'}

try:
    result = check()
except Exception as e:
    result = {'verdict': 'error', 'detail': f'{type(e).__name__}: {e}'}
print(__MARK__ + json.dumps(result, default=str))
"""


async def _run_script(
    script: str, args: dict[str, object], *, timeout: float, sandbox: PythonSandbox | None
) -> CheckResult:
    started = time.perf_counter()
    code = script.replace("__ARGS__", repr(json.dumps(args))).replace("__MARK__", repr(_MARK))
    own = sandbox is None
    box = sandbox or PythonSandbox(SandboxLimits(timeout=timeout, cpu_seconds=max(1, int(timeout) + 1)), pool_size=0)
    try:
        result = await box.run(code, timeout=timeout)
    finally:
        if own:
            await box.aclose()
    seconds = time.perf_counter() - started
    if result.status == "timeout" or result.status == "cpu_limit":
        return CheckResult(verdict="unknown", detail=f"the check did not finish in {timeout:g} s", seconds=seconds)
    for line in reversed(result.stdout.splitlines()):
        if line.startswith(_MARK):
            try:
                data = json.loads(line[len(_MARK) :])
                return CheckResult.model_validate({**data, "seconds": seconds})
            except ValueError:
                break
    return CheckResult(verdict="error", detail=result.error or "the checker produced no verdict", seconds=seconds)


async def sympy_check(
    expr: str,
    other: str | None = None,
    *,
    equations: Sequence[str] = (),
    values: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    sandbox: PythonSandbox | None = None,
) -> CheckResult:
    """Check an algebraic claim with SymPy, inside the sandbox.

    Two forms:
        * equality: ``sympy_check("(x+1)**2", "x**2 + 2*x + 1")`` or ``sympy_check("sin(x)^2 + cos(x)^2 = 1")``;
          refuted equalities come with a numeric point where the two sides differ.
        * satisfaction: ``sympy_check("x**2 - 5*x + 6 = 0", values={"x": "2"})`` or several
          ``equations=[...]`` with ``values`` for a system.

    Expressions are parsed with ``parse_expr`` (implicit multiplication, ``^`` as power) or, when
    they contain a backslash, as LaTeX (with ``latex2sympy2_extended``, which math-verify installs,
    else sympy's own LaTeX parser, which needs ``antlr4-python3-runtime``).

    Args:
        expr: an expression, or an equation ``a = b``.
        other: the expression to compare `expr` with.
        equations: equations to check against `values` (with `expr` added when it is an equation).
        values: variable values, as expressions; selects the satisfaction form.
        timeout: wall seconds for the whole check.
        sandbox: a sandbox to run in (its warm pool saves start-up time); a fresh one otherwise.

    Raises:
        UserError: when neither form's arguments are given.
    """
    eqs = list(equations)
    if values is not None:
        if "=" in expr:
            eqs.insert(0, expr)
        if not eqs:
            raise UserError("sympy_check with values= needs at least one equation 'a = b'")
        args: dict[str, object] = {"expr": expr, "other": None, "equations": eqs, "values": dict(values)}
    else:
        if other is None:
            if "=" not in expr:
                raise UserError(f"sympy_check needs `other` or an equation 'a = b', got {expr!r}")
            left, _, right = expr.replace("==", "=").partition("=")
            expr, other = left, right
        args = {"expr": expr, "other": other, "equations": [], "values": None}
    return await _run_script(_SYMPY_SCRIPT, args, timeout=timeout, sandbox=sandbox)


async def z3_check(
    claim: str,
    *,
    language: Literal["smt2", "python"] = "smt2",
    variables: Mapping[str, Literal["Int", "Real", "Bool"]] | None = None,
    hypotheses: Sequence[str] = (),
    timeout: float = 10.0,
    sandbox: PythonSandbox | None = None,
) -> CheckResult:
    """Prove or refute a claim with Z3, inside the sandbox.

    The claim *holds* when it is true for every value of its variables (given the hypotheses), that
    is, when ``hypotheses and not claim`` is unsatisfiable; otherwise Z3's model is returned as a
    counterexample.

    Args:
        claim: SMT-LIB text (``(declare-const x Int) (assert (> (* x x) -1))``: the conjunction of
            its assertions is the claim) or, with ``language="python"``, a z3py expression such as
            ``"Implies(x > 2, x * x > 4)"`` over `variables` (only z3's connectives are in scope).
        language: ``"smt2"`` or ``"python"``.
        variables: for ``python``: variable names and sorts (``Int``, ``Real``, ``Bool``).
        hypotheses: assumptions, in the same language (SMT-LIB hypotheses must repeat declarations).
        timeout: wall seconds; Z3 itself gets slightly less.
        sandbox: a sandbox to run in; a fresh one otherwise.

    Raises:
        UserError: for an unknown language or sort.
    """
    if language not in ("smt2", "python"):
        raise UserError(f"z3_check language must be 'smt2' or 'python', got {language!r}")
    bad = {k: v for k, v in (variables or {}).items() if v not in ("Int", "Real", "Bool") or not k.isidentifier()}
    if bad:
        raise UserError(f"z3_check variables must be identifiers of sort Int, Real or Bool: {bad!r}")
    args: dict[str, object] = {
        "claim": claim,
        "language": language,
        "variables": dict(variables or {}),
        "hypotheses": list(hypotheses),
        "timeout_ms": max(100, int(timeout * 800)),
    }
    return await _run_script(_Z3_SCRIPT, args, timeout=timeout, sandbox=sandbox)


class SympyCheckArgs(BaseModel):
    """Arguments of the `sympy_check` tool."""

    expr: str = Field(description="An expression, or an equation 'a = b'.")
    other: str | None = Field(default=None, description="Expression to compare with `expr`.")
    equations: list[str] = Field(default_factory=list, description="Equations to check against `values`.")
    values: dict[str, str] | None = Field(default=None, description="Variable values, to check the equations.")


class Z3CheckArgs(BaseModel):
    """Arguments of the `z3_check` tool."""

    claim: str = Field(description="SMT-LIB assertions, or a z3py expression when language='python'.")
    language: Literal["smt2", "python"] = "smt2"
    variables: dict[str, Literal["Int", "Real", "Bool"]] = Field(default_factory=dict)
    hypotheses: list[str] = Field(default_factory=list)


class SympyCheckTool:
    """`sympy_check` as an agent tool."""

    name = "sympy_check"
    description = (
        "Check algebra with SymPy: whether two expressions are equal (expr, other) or whether values "
        "satisfy equations (equations, values). Returns holds / fails (with a counterexample) / unknown."
    )
    args_model = SympyCheckArgs

    def __init__(self, sandbox: PythonSandbox | None = None, *, timeout: float = 10.0) -> None:
        """Run checks in `sandbox` (recommended: shares its warm pool) with `timeout` seconds each."""
        self.sandbox = sandbox
        self.timeout = timeout

    async def run(self, args: SympyCheckArgs) -> ToolResult:
        """Run the check; caller mistakes come back as a failed result too (the caller is a model)."""
        try:
            check = await sympy_check(
                args.expr,
                args.other,
                equations=args.equations,
                values=args.values,
                timeout=self.timeout,
                sandbox=self.sandbox,
            )
        except UserError as e:
            return ToolResult(ok=False, error=str(e), output=str(e))
        return check.to_tool_result()


class Z3CheckTool:
    """`z3_check` as an agent tool."""

    name = "z3_check"
    description = (
        "Prove or refute an arithmetic/logical claim with Z3. `claim` is SMT-LIB (declare-const + assert) "
        "or, with language='python', a z3py expression over `variables`. Returns holds / fails with a "
        "counterexample / unknown."
    )
    args_model = Z3CheckArgs

    def __init__(self, sandbox: PythonSandbox | None = None, *, timeout: float = 10.0) -> None:
        """Run checks in `sandbox` with `timeout` seconds each."""
        self.sandbox = sandbox
        self.timeout = timeout

    async def run(self, args: Z3CheckArgs) -> ToolResult:
        """Run the check; caller mistakes come back as a failed result."""
        try:
            check = await z3_check(
                args.claim,
                language=args.language,
                variables=args.variables,
                hypotheses=args.hypotheses,
                timeout=self.timeout,
                sandbox=self.sandbox,
            )
        except UserError as e:
            return ToolResult(ok=False, error=str(e), output=str(e))
        return check.to_tool_result()
