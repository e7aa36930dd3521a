"""`ChatSession`: the read-solve-draw loop of a chat, and what each solve runs on."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console, RenderableType
from rich.text import Text

from xolver.errors import ModelError, XolverError
from xolver.ui.chat.commands import run_command
from xolver.ui.chat.hints import Hint
from xolver.ui.chat.render import banner, error_panel, show_solve
from xolver.ui.chat.terminal import no_echo, on_sigint
from xolver.ui.input import LineReader

if TYPE_CHECKING:  # pragma: no cover
    from xolver.api import Xolver
    from xolver.config import XolverConfig
    from xolver.memory.base import ExperienceStore
    from xolver.memory.stores import StoreSpec
    from xolver.models.base import Model
    from xolver.runtime import SolveRuntime
    from xolver.solution import Solution
    from xolver.ui.progress import SolveView
    from xolver.ui.transcript import Turn

__all__ = ["ChatSession", "compose_problem"]

T = TypeVar("T")
_PROMPT = "› "
_IN_PROCESS: Any = object()
"""The default `memory`: a fresh in-process store for this session."""


def compose_problem(question: str, earlier: list[Turn]) -> str:
    """The problem sent for `question`, quoting the answered turns of `earlier` (the last few).

    A solve sees no chat history of its own, so the conversation travels in the problem text; the
    rule is `xolver.conversation.compose_problem`, which the OpenAI endpoint follows too.
    """
    from xolver.conversation import Exchange
    from xolver.conversation import compose_problem as compose

    answered = [Exchange(t.question, t.solution.answer) for t in earlier if t.solution is not None]
    return compose(question, answered)


class ChatSession:
    """A chat: questions are solved by the team, ``/commands`` change and inspect the session.

    What the solves run on is a `SolveRuntime` (built on first use): `close` releases the model and
    the store it built or opened, and leaves open a model or store the caller passed in.

    Args:
        console: where everything is drawn; a non-terminal console gets plain lines, no live view.
        reader: where inputs come from.
        config: the settings of every solve (``stream_tokens`` is turned on).
        model: the model to use, the caller's (default: built from ``config.model``).
        memory: the experience store, the caller's; a `StoreSpec` to open on first use; None for
            no store (default: a fresh in-process store for this session).
        memory_label: how the banner and ``/memory stats`` name the store.
        compact: start in compact view.
        model_factory: builds the model for ``/model NAME``; what it returns is the caller's
            (default: `xolver.models.model_from_config`, built and closed by the session).
        clock: where elapsed time comes from.
        quiet_tty: turn the terminal's echo off during a solve, so keys typed (and the ``^C`` of a
            Ctrl-C) do not scramble the live view.
    """

    def __init__(
        self,
        console: Console,
        reader: LineReader,
        *,
        config: XolverConfig,
        model: Model | None = None,
        memory: ExperienceStore | StoreSpec | None = _IN_PROCESS,
        memory_label: str = "this session only (in process)",
        compact: bool = False,
        model_factory: Callable[[str], Model] | None = None,
        clock: Callable[[], float] = time.monotonic,
        quiet_tty: bool = False,
    ) -> None:
        from xolver.config import XolverConfig

        self.console = console
        self.reader = reader
        self.config = XolverConfig.model_validate({**config.model_dump(), "stream_tokens": True})
        if memory is _IN_PROCESS:
            from xolver.memory.stores import StoreSpec

            memory = StoreSpec(backend="memory")
        self._memory = memory
        self.memory_label = memory_label
        self.compact = compact
        self._model_factory = model_factory
        self._clock = clock
        self.quiet_tty = quiet_tty
        self.turns: list[Turn] = []
        self._context_from = 0
        self._runtime: SolveRuntime | None = None
        self._xolver: Xolver | None = None
        self._task: asyncio.Task[Any] | None = None
        self._interrupted = False
        self.live = console.is_terminal and not console.is_dumb_terminal
        if model is not None:
            self._build_runtime(model, self.config)

    # ----------------------------------------------------------------- the team

    def _build_runtime(self, model: Model | None, config: XolverConfig) -> SolveRuntime:
        from xolver.runtime import SolveRuntime

        self._runtime = SolveRuntime(config, model=model, memory=self._memory)
        return self._runtime

    @property
    def runtime(self) -> SolveRuntime:
        """What the solves run on: the model and the store (built on first use).

        Raises:
            UserError: the config names no usable model.
        """
        return self._runtime or self._build_runtime(None, self.config)

    @property
    def model(self) -> Model:
        """The model the solves run on."""
        return self.runtime.model

    def open_memory(self) -> ExperienceStore | None:
        """The experience store, opened on first use (blocking: an embedder can take seconds to load).

        Raises:
            UserError: the store cannot be opened.
        """
        from xolver.memory.stores import StoreSpec

        if self._runtime is None and not isinstance(self._memory, StoreSpec):
            return self._memory  # the caller's store (or none): no need to build the model for it
        return self.runtime.open_memory()

    async def aopen_memory(self) -> ExperienceStore | None:
        """`open_memory` from async code: a first open runs in a worker thread."""
        from xolver.memory.stores import StoreSpec

        if self._runtime is None and not isinstance(self._memory, StoreSpec):
            return self._memory
        return await self.runtime.aopen_memory()

    def xolver(self) -> Xolver:
        """The `Xolver` for the current settings (rebuilt after /model, /agents, /rounds)."""
        if self._xolver is None:
            from xolver.api import Xolver

            runtime = self.runtime
            self._xolver = Xolver(runtime.model, config=self.config, memory=runtime.open_memory())
        return self._xolver

    def _validated(self, **changes: Any) -> XolverConfig:
        from pydantic import ValidationError

        from xolver.config import XolverConfig

        try:
            return XolverConfig.model_validate({**self.config.model_dump(), **changes})
        except ValidationError as e:
            raise Hint(e.errors()[0]["msg"]) from e

    def reconfigure(self, **changes: Any) -> None:
        """Change settings of the next solves (``agents=3``).

        Raises:
            Hint: the new settings are not valid.
        """
        self.config = self._validated(**changes)
        self._xolver = None

    def switch_model(self, name: str) -> Model:
        """Solve on the model `name` from now on (``/model NAME``), with the same store.

        Raises:
            UserError: `name` is no usable model (the current one stays).
            Hint: the settings with `name` are not valid.
        """
        config = self._validated(model=name)
        given = self._model_factory(name) if self._model_factory is not None else None
        # The reasoning override describes the configured model, not this one: detect it.
        build_from = config.model_copy(update={"reasoning": None})
        if self._runtime is None:
            new = self._build_runtime(given, build_from).model
        else:
            new = self._runtime.replace_model(given, config=build_from)
        self.config, self._xolver = config, None
        return new

    def new_conversation(self) -> None:
        """Stop quoting the turns so far with the next questions (``/clear``)."""
        self._context_from = len(self.turns)

    def status(self) -> str:
        """Model and team in a few words (banner, toolbar)."""
        cfg = self.config
        view = "compact" if self.compact else "full"
        model = self._runtime.model.name if self._runtime is not None else cfg.model
        return f"{model} · {cfg.agents} agents · {cfg.rounds} rounds · {view} view"

    def close(self) -> None:
        """Release the model and the store this session built or opened; a caller's stay open."""
        runtime, self._runtime, self._xolver = self._runtime, None, None
        if runtime is not None:
            with contextlib.suppress(Exception):
                runtime.close()

    # ----------------------------------------------------------------- the loop

    async def run(self) -> int:
        """Read and answer until the user leaves; return the exit code (0)."""
        self.say(banner(self.status(), self.memory_label))
        try:
            while True:
                try:
                    text = await self._read()
                except (EOFError, KeyboardInterrupt):
                    break
                text = text.strip()
                if not text:
                    continue
                if not self.reader.echoes:
                    self.say(Text.assemble((_PROMPT, "bold"), text))
                if text.startswith("/"):
                    if not await self.command(text):
                        break
                    continue
                await self.ask(text)
        finally:
            self.close()
        self.say(Text("bye", style="dim"))
        return 0

    async def _read(self) -> str:
        if self.reader.handles_interrupt:
            return await self.reader.read(_PROMPT)
        try:
            return await self._interruptible(self.reader.read(_PROMPT))
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            raise KeyboardInterrupt from None

    def interrupt(self) -> None:
        """Cancel the running solve (what Ctrl-C does); nothing happens at the prompt."""
        if self._task is not None and not self._task.done():
            self._interrupted = True
            self._task.cancel()

    async def _interruptible(self, work: Awaitable[T]) -> T:
        """Run `work` as a task that Ctrl-C (SIGINT) cancels."""
        self._interrupted = False

        async def wrapped() -> T:
            return await work

        task: asyncio.Task[T] = asyncio.ensure_future(wrapped())
        self._task = task
        with on_sigint(self.interrupt):
            try:
                return await task
            finally:
                self._task = None

    async def ask(self, question: str) -> Solution | None:
        """Solve `question` (with the conversation so far), drawing the team as it works."""
        from xolver.ui.progress import SolutionPanel, SolveView
        from xolver.ui.transcript import Turn

        turn = Turn(question=question)
        problem = compose_problem(question, self.turns[self._context_from :])
        view = SolveView(compact=self.compact, clock=self._clock, title=question)
        try:
            await self.runtime.aopen_memory()  # a first open loads the embedder off the loop
            xo = self.xolver()
            with no_echo(self.quiet_tty):
                solution = await self._interruptible(self._drive(xo, problem, view))
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            turn.outcome = "cancelled"
            turn.detail = f"{view.calls} model calls, {view.tokens} tokens, {view.elapsed:.1f} s"
            view.note = f"cancelled: {turn.detail}"
            self.say(view if self.live else Text(f"solve cancelled after {turn.detail}"))
            self.say(Text("cancelled; back at the prompt", style="yellow"))
            self.turns.append(turn)
            return None
        except ModelError as e:
            turn.outcome, turn.detail = "error", str(e)
            self._error("model error", str(e), "the session goes on; /model NAME switches models")
            self.turns.append(turn)
            return None
        except XolverError as e:
            turn.outcome, turn.detail = "error", str(e)
            self._error("error", str(e), "")
            self.turns.append(turn)
            return None
        except Exception as e:  # the session must survive a bug in one solve
            turn.outcome, turn.detail = "error", f"{type(e).__name__}: {e}"
            self._error("unexpected error", turn.detail, "the session goes on")
            self.turns.append(turn)
            return None
        turn.solution = solution
        self.turns.append(turn)
        if self.live:
            self.say(view)
            self.say(SolutionPanel(solution))
        return solution

    async def _drive(self, xo: Xolver, problem: str, view: SolveView) -> Solution:
        return await show_solve(self.console, xo.astream(problem), view, live=self.live)

    async def command(self, text: str) -> bool:
        """Run one ``/command``; return False when the session should end."""
        return await run_command(self, text)

    # ----------------------------------------------------------------- output

    def say(self, renderable: RenderableType) -> None:
        """Print `renderable` on the session's console."""
        self.console.print(renderable)

    def hint(self, message: str) -> None:
        """Print a one-line hint about a command."""
        self.console.print(Text(message, style="yellow"), soft_wrap=True)

    def _error(self, title: str, message: str, hint: str) -> None:
        self.console.print(error_panel(title, message, hint))
