"""Answer checking: math answers by equivalence (math-verify), expressions of given numbers by exact
evaluation, programs by running their tests.

Math: exact integers where the benchmark asks for integers (AIME: ``033`` equals ``33``); plain numbers
and fractions compared as exact rationals; anything else (LaTeX expressions, intervals, tuples) by
math-verify. math-verify's own timeouts use SIGALRM, which only works on the main thread, so it runs
with them disabled in a separate worker process that we kill when it takes longer than our bound.

Expressions (Game of 24): there is no gold expression, so an answer is right when it uses each given
number exactly once and its exact rational value is the target (`xolver.tools.arithmetic.check_expression`).

Code: the program and its tests run together in one `PythonSandbox` worker; every test has its own
timeout inside that worker (a wall-clock bound for the whole batch backs it up), and the score is the
share of tests passed.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from xolver.agents.parsing import extract_boxed, extract_code_block, normalize_answer
from xolver.eval.datasets import CodeTests, NumberPuzzle, Task

if TYPE_CHECKING:
    from xolver.tools.sandbox import PythonSandbox

__all__ = [
    "Grade",
    "answers_equivalent",
    "check_answer",
    "check_code",
    "check_expression_answer",
    "check_math",
    "close_math_worker",
    "program_from_answer",
    "public_test_snippets",
]

DEFAULT_MATH_TIMEOUT = 10.0
DEFAULT_TEST_TIMEOUT = 6.0


@dataclass(frozen=True)
class Grade:
    """The verdict on one answer.

    Attributes:
        correct: the answer counts as solved (math: equivalent; code: every test passed).
        score: math 0 or 1; code the share of tests passed.
        method: how it was decided: ``integer``, ``numeric``, ``normalized``, ``math_verify``,
            ``expression``, ``tests``, or ``none`` (nothing to check: empty answer, checker timeout).
        passed: tests passed (code).
        total: tests run (code).
        detail: a short reason, e.g. the first failing test's error.
    """

    correct: bool
    score: float
    method: str
    passed: int = 0
    total: int = 0
    detail: str = ""


# ----------------------------------------------------------------------------- math


def _strip_answer(text: str) -> str:
    boxed = extract_boxed(text)
    value = boxed[-1] if boxed else text
    return value.strip().strip("$").strip()


def _as_fraction(text: str) -> Fraction | None:
    normal = normalize_answer(text)
    if not re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", normal):
        return None
    try:
        return Fraction(normal)
    except (ValueError, ZeroDivisionError):
        return None


def _as_integer(text: str) -> int | None:
    value = _as_fraction(text)
    return int(value) if value is not None and value.denominator == 1 else None


def check_math(
    candidate: str | None,
    gold: str,
    *,
    integer: bool = False,
    timeout: float = DEFAULT_MATH_TIMEOUT,
) -> Grade:
    """Whether `candidate` equals the gold answer.

    Blocking (math-verify may run for up to `timeout` seconds in its worker process); async code
    should call it through ``asyncio.to_thread``.

    Args:
        candidate: the final answer (a bare value, or text with a ``\\boxed{}``).
        gold: the gold answer (a number or LaTeX).
        integer: compare as integers only (AIME-style answers).
        timeout: seconds math-verify may take before the answer counts as wrong.
    """
    if candidate is None or not candidate.strip():
        return Grade(False, 0.0, "none", detail="no answer")
    cand, ref = _strip_answer(candidate), _strip_answer(gold)
    if integer:
        want, got = _as_integer(ref), _as_integer(cand)
        if want is not None:
            ok = got is not None and got == want
            return Grade(ok, float(ok), "integer", detail="" if got is not None else "not an integer")
    want_number, got_number = _as_fraction(ref), _as_fraction(cand)
    if want_number is not None and got_number is not None:
        ok = want_number == got_number
        return Grade(ok, float(ok), "numeric")
    if normalize_answer(cand) == normalize_answer(ref):
        return Grade(True, 1.0, "normalized")
    verdict = _MATH_VERIFY.verify(ref, cand, timeout=timeout)
    if verdict is None:
        return Grade(False, 0.0, "none", detail=f"math-verify gave no verdict within {timeout:g} s")
    return Grade(verdict, float(verdict), "math_verify")


def answers_equivalent(a: str | None, b: str | None, *, integer: bool = False) -> bool:
    """Whether two candidate answers agree, by the same rules as `check_math` (for majority votes)."""
    if not a or not b:
        return False
    return check_math(a, b, integer=integer).correct


def check_expression_answer(candidate: str | None, puzzle: NumberPuzzle) -> Grade:
    """Whether `candidate` (an expression, maybe boxed or followed by ``= 24``) solves `puzzle`.

    A plain number, even the target itself, is not a solution: the puzzle asks for the expression.
    """
    from xolver.tools.arithmetic import check_expression

    if candidate is None or not candidate.strip():
        return Grade(False, 0.0, "none", detail="no answer")
    result = check_expression(_strip_answer(candidate), list(puzzle.numbers), puzzle.target)
    ok = result.verdict == "holds"
    return Grade(ok, float(ok), "expression", detail="" if ok else result.detail)


class _MathVerifyWorker:
    """One long-lived child process running math-verify; killed and replaced when a check overruns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._warm = False

    def _start(self) -> subprocess.Popen[str]:
        # A plain subprocess, not multiprocessing: spawn would re-import the caller's __main__.
        process = subprocess.Popen(
            [sys.executable, "-m", "xolver.eval._math_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._process = process
        return process

    def verify(self, gold: str, target: str, *, timeout: float) -> bool | None:
        with self._lock:
            process = self._process if self._process is not None and self._process.poll() is None else None
            if process is None:
                process = self._start()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(json.dumps([gold, target]) + "\n")
                process.stdin.flush()
                # The first check also pays for starting Python and importing sympy.
                ready, _, _ = select.select([process.stdout], [], [], timeout + (0.0 if self._warm else 20.0))
                if ready:
                    line = process.stdout.readline()
                    if line:
                        self._warm = True
                        return line.strip() == "true"
            except (OSError, ValueError):
                pass
            self._stop()
            return None

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()
        self._process = None
        self._warm = False

    def close(self) -> None:
        with self._lock:
            self._stop()


_MATH_VERIFY = _MathVerifyWorker()


def close_math_worker() -> None:
    """Stop the math-verify worker process (it is restarted on the next check)."""
    _MATH_VERIFY.close()


# ----------------------------------------------------------------------------- code

# Runs inside the sandbox worker. It reports each test as one line "<nonce> [index, ok, reason]" on
# the real stdout as soon as the test ends, so a crash or the wall-clock backstop loses only the rest.
_HARNESS = r"""
import ast as _ast, io as _io, json as _json, math as _math, signal as _signal, sys as _sys

_NONCE, _STYLE, _ENTRY, _LIMIT = __XOLVER_ARGS__
_PROGRAM, _SETUP, _TESTS = __XOLVER_CODE__
_OUT = _sys.__stdout__


class _TestTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise _TestTimeout()


_signal.signal(_signal.SIGALRM, _alarm)


def _report(index, ok, reason=""):
    _OUT.write(_NONCE + " " + _json.dumps([index, ok, reason[:300]]) + "\n")
    _OUT.flush()


def _bounded(fn):
    # Returns (ok, error text, captured stdout); the candidate's prints never reach our stdout.
    buffer = _io.StringIO()
    _sys.stdout = buffer
    _signal.setitimer(_signal.ITIMER_REAL, _LIMIT)
    try:
        fn()
        return True, "", buffer.getvalue()
    except _TestTimeout:
        return False, "timed out after %gs" % _LIMIT, buffer.getvalue()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) or e.code is None else 1
        return (not code), ("" if not code else "exit(%s)" % code), buffer.getvalue()
    except BaseException as e:
        return False, (type(e).__name__ + ": " + str(e)).strip(), buffer.getvalue()
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _sys.stdout = _OUT


def _parse(text):
    try:
        return _json.loads(text)
    except ValueError:
        pass
    try:
        return _ast.literal_eval(text)
    except Exception:
        return text


def _same(got, want):
    if isinstance(got, tuple):
        got = list(got)
    if got == want:
        return True
    if isinstance(got, float) and isinstance(want, (int, float)) and not isinstance(want, bool):
        return _math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9)
    try:
        return _json.loads(_json.dumps(got)) == want
    except (TypeError, ValueError):
        return False


def _clean(text):
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


_sys.stdin = _io.StringIO("")
if _STYLE == "stdio":
    try:
        _code = compile(_PROGRAM, "<program>", "exec")
    except SyntaxError as e:
        _code = None
        _why = "SyntaxError: %s" % e
    for _i, (_input, _want) in enumerate(_TESTS):
        if _code is None:
            _report(_i, False, _why)
            continue
        _sys.stdin = _io.StringIO(_input)
        _ok, _err, _got = _bounded(lambda: exec(_code, {"__name__": "__main__"}))
        if _ok and _clean(_got) != _clean(_want):
            _ok, _err = False, "wrong output: %r" % _clean(_got)[:100]
        _report(_i, _ok, _err)
else:
    _ns = {"__name__": "__candidate__"}
    _ok, _err, _ = _bounded(lambda: exec(compile(_PROGRAM + "\n\n" + _SETUP, "<program>", "exec"), _ns))
    _target = None
    if _ok and _STYLE == "call":
        _target = _ns.get(_ENTRY)
        if _target is None and isinstance(_ns.get("Solution"), type):
            _target = getattr(_ns["Solution"](), _ENTRY, None)
        if _target is None:
            _ok, _err = False, "no function %r defined" % _ENTRY
    for _i, (_source, _want) in enumerate(_TESTS):
        if not _ok:
            _report(_i, False, _err)
            continue
        if _STYLE == "assert":
            _tok, _terr, _ = _bounded(lambda: exec(compile(_source, "<test>", "exec"), _ns))
        else:
            _lines = _source.split("\n")
            try:
                import inspect as _inspect
                _arity = len(_inspect.signature(_target).parameters)
            except (TypeError, ValueError):
                _arity = len(_lines)
            _args = [_parse(_source)] if _arity == 1 else [_parse(line) for line in _lines]
            _box = []
            _tok, _terr, _ = _bounded(lambda: _box.append(_target(*_args)))
            if _tok and not _same(_box[0], _want):
                _tok, _terr = False, "returned %r" % (_box[0],)
        _report(_i, _tok, _terr)
"""


def program_from_answer(answer: str, tests: CodeTests) -> str:
    """The program to test: the answer's last code block (or the answer itself), with the
    problem's prompt put in front when the answer is only a function body (HumanEval style)."""
    code = extract_code_block(answer, language="python") or answer
    if tests.prompt and tests.entry_point and not re.search(rf"def\s+{re.escape(tests.entry_point)}\s*\(", code):
        return tests.prompt + code
    return code


def public_test_snippets(tests: CodeTests) -> list[str]:
    """The public tests as standalone Python snippets (what `Xolver.asolve(tests=...)` takes).

    ``assert`` tests are passed as they are; ``call`` tests become ``assert f(*args) == expected``;
    ``stdio`` tests cannot be written as a snippet about a function and are left out.
    """
    if tests.style == "assert":
        return [t.source for t in tests.public]
    if tests.style == "call" and tests.entry_point:
        snippets = []
        for test in tests.public:
            lines = test.source.split("\n")
            args = ", ".join(repr(_literal(line)) for line in lines)
            snippets.append(f"assert {tests.entry_point}({args}) == {test.expected!r}")
        return snippets
    return []


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _harness(program: str, tests: CodeTests, nonce: str, per_test: float, which: Sequence[Any]) -> str:
    items = [[t.source, t.expected] for t in which]
    args = repr((nonce, tests.style, tests.entry_point, per_test))
    code = repr((program, tests.setup, items))
    return _HARNESS.replace("__XOLVER_ARGS__", args).replace("__XOLVER_CODE__", code)


def _parse_reports(stdout: str, nonce: str, total: int) -> tuple[int, str]:
    results: dict[int, tuple[bool, str]] = {}
    for line in stdout.splitlines():
        if not line.startswith(nonce + " "):
            continue
        try:
            index, ok, reason = json.loads(line[len(nonce) + 1 :])
        except (ValueError, TypeError):
            continue
        if isinstance(index, int) and 0 <= index < total:
            results[index] = (bool(ok), str(reason))
    passed = sum(1 for ok, _ in results.values() if ok)
    first_failure = next((f"test {i}: {results[i][1]}" for i in sorted(results) if not results[i][0]), "")
    if len(results) < total and not first_failure:
        first_failure = f"test {len(results)}: no result"
    return passed, first_failure


async def check_code(
    program: str,
    tests: CodeTests,
    *,
    sandbox: PythonSandbox | None = None,
    per_test_timeout: float = DEFAULT_TEST_TIMEOUT,
    public_only: bool = False,
) -> Grade:
    """Run `program` against `tests` in the sandbox.

    Args:
        program: the candidate program (see `program_from_answer` for a model's reply).
        tests: the task's tests.
        sandbox: a sandbox to run in (its warm pool makes many checks cheap); default a new one.
        per_test_timeout: wall seconds each test (and loading the program) may take.
        public_only: run only the public tests (what a solver may see while working).

    Returns:
        ``score`` = tests passed / tests run; ``correct`` when all passed.
    """
    from xolver.tools.sandbox import PythonSandbox, SandboxLimits

    which = tests.public if public_only else tests.tests
    if not which:
        return Grade(False, 0.0, "none", detail="no tests to run")
    if not program.strip():
        return Grade(False, 0.0, "tests", passed=0, total=len(which), detail="empty program")
    nonce = f"@@xolver-test-{secrets.token_hex(8)}"
    backstop = per_test_timeout * (len(which) + 1) + 10.0
    code = _harness(program, tests, nonce, per_test_timeout, which)
    owned = sandbox is None
    box = sandbox or PythonSandbox(_limits(SandboxLimits, backstop), pool_size=0)
    try:
        result = await box.run(code, timeout=backstop)
    finally:
        if owned:
            await box.aclose()
    passed, failure = _parse_reports(result.stdout, nonce, len(which))
    if not result.ok and not failure:
        failure = result.error or "the test run failed"
    score = passed / len(which)
    return Grade(passed == len(which), score, "tests", passed=passed, total=len(which), detail=failure)


def _limits(factory: Any, backstop: float) -> Any:
    return factory(timeout=backstop, cpu_seconds=max(10, int(backstop) + 1), max_output_bytes=1_000_000)


def code_sandbox(*, pool_size: int = 2, max_tests: int = 60, per_test_timeout: float = DEFAULT_TEST_TIMEOUT) -> Any:
    """A `PythonSandbox` with limits sized for running up to `max_tests` tests per check."""
    from xolver.tools.sandbox import PythonSandbox, SandboxLimits

    backstop = per_test_timeout * (max_tests + 1) + 10.0
    return PythonSandbox(_limits(SandboxLimits, backstop), pool_size=pool_size)


async def check_answer(
    task: Task,
    answer: str | None,
    *,
    sandbox: PythonSandbox | None = None,
    math_timeout: float = DEFAULT_MATH_TIMEOUT,
    per_test_timeout: float = DEFAULT_TEST_TIMEOUT,
) -> Grade:
    """Grade a final answer (math, expression) or a reply holding a program (code) for `task`."""
    if task.kind == "expression":
        if task.puzzle is None:
            return Grade(False, 0.0, "none", detail="task has no puzzle")
        return check_expression_answer(answer, task.puzzle)
    if task.kind == "code":
        if task.tests is None or not answer:
            return Grade(False, 0.0, "none", detail="no program" if task.tests is not None else "task has no tests")
        program = program_from_answer(answer, task.tests)
        return await check_code(program, task.tests, sandbox=sandbox, per_test_timeout=per_test_timeout)
    if task.answer is None:
        return Grade(False, 0.0, "none", detail="task has no gold answer")
    return await asyncio.to_thread(check_math, answer, task.answer, integer=task.integer_answer, timeout=math_timeout)
