"""`xolver chat`: a terminal chat that shows the team at work.

The session reads questions and ``/commands`` from a `LineReader`, solves each question with
`Xolver.astream` and draws the events in a live `SolveView` (or as plain lines when the output is not
a terminal). Both the reader and the console are injected, so tests drive a whole session with a
`ScriptedReader` and a `Console(file=io.StringIO())`.

Follow-up turns: `Xolver` solves one problem at a time, so a follow-up is sent as a problem that
quotes the conversation so far (the last few questions with their answers, see `compose_problem`).
``/clear`` starts a fresh conversation.

Ctrl-C during a solve cancels the asyncio task that drives `astream`: the graph's in-flight model
calls are cancelled with it, the view shows what was done, and the session goes on. A provider error
(`ModelError`) is shown in a panel and the session goes on too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from xolver.errors import ModelError, UserError, XolverError
from xolver.ui.input import LineReader

if TYPE_CHECKING:  # pragma: no cover
    from xolver.api import Xolver
    from xolver.config import XolverConfig
    from xolver.memory.base import ExperienceStore
    from xolver.models.base import Model, ModelRequest, ModelResponse, StreamingModel, TextSink
    from xolver.solution import Solution
    from xolver.ui.progress import SolveView
    from xolver.ui.transcript import Turn

__all__ = ["ChatSession", "compose_problem", "register"]

T = TypeVar("T")
_PROMPT = "› "
_CONTEXT_TURNS = 3

_HELP = [
    ("/help", "this list"),
    ("/model NAME", "switch model, e.g. /model local or /model openai/gpt-4o-mini"),
    ("/agents N", "solver agents per solve (1-16)"),
    ("/rounds N", "refinement rounds after the first (0-20)"),
    ("/view compact|full", "one status line per agent, or the full team view"),
    ("/memory search QUERY", "search the experience memory"),
    ("/memory stats", "what the experience memory holds"),
    ("/trace", "the full trajectory of the last solve"),
    ("/save FILE", "FILE.json: the last Solution; FILE.md: the transcript"),
    ("/cost", "calls, tokens, cost and time of this session"),
    ("/clear", "clear the screen and start a fresh conversation"),
    ("/quit", "leave (also Ctrl-D, or Ctrl-C at an empty prompt)"),
]


class _Hint(Exception):
    """A one-line message for the user about a command (bad arguments, nothing to show)."""


_UNSET: Any = object()


class _StreamInCallerContext:
    """Wraps a streaming model so each piece of text is reported in the context of the call.

    LangGraph's stream writer reads the node's context variables. A backend that generates in a
    worker thread and hands pieces to the loop with ``call_soon_threadsafe`` (llama.cpp) runs them in
    an empty context, where the writer fails; this wrapper runs them in a copy of the caller's.
    """

    def __init__(self, inner: StreamingModel) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def reasoning(self) -> bool:
        """The wrapped model's `reasoning`, so `completion_cap` still sees a reasoning model."""
        return getattr(self.inner, "reasoning", False) is True

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self.inner.complete(request)

    async def complete_streaming(self, request: ModelRequest, on_text: TextSink) -> ModelResponse:
        context = contextvars.copy_context()

        def relay(text: str) -> None:
            context.run(on_text, text)

        return await self.inner.complete_streaming(request, relay)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


def _for_chat(model: Model) -> Model:
    from xolver.models.base import StreamingModel

    if isinstance(model, StreamingModel) and not isinstance(model, _StreamInCallerContext):
        return _StreamInCallerContext(model)
    return model


def compose_problem(question: str, earlier: list[Turn]) -> str:
    """The problem sent for `question`, quoting the answered turns of `earlier` (the last few).

    A solve sees no chat history of its own, so the conversation travels in the problem text.
    """
    answered = [t for t in earlier if t.solution is not None][-_CONTEXT_TURNS:]
    if not answered:
        return question
    lines = ["Earlier in this conversation:"]
    for turn in answered:
        assert turn.solution is not None
        asked = " ".join(turn.question.split())
        lines.append(f"Q: {asked[:600]}")
        lines.append(f"A: {turn.solution.answer or '(no answer)'}")
    lines += ["", f"Follow-up question (answer this one): {question}"]
    return "\n".join(lines)


@dataclass
class _Spent:
    calls: int = 0
    tokens: int = 0
    cost: float = 0.0


class ChatSession:
    """A chat: questions are solved by the team, ``/commands`` change and inspect the session.

    Args:
        console: where everything is drawn; a non-terminal console gets plain lines, no live view.
        reader: where inputs come from.
        config: the settings of every solve (``stream_tokens`` is turned on).
        model: the model instance to use (default: built from ``config.model``).
        memory: the experience store (default: a fresh in-process store for this session).
        memory_label: how the banner and ``/memory stats`` name the store.
        compact: start in compact view.
        model_factory: builds a model for ``/model NAME`` (default: `xolver.models.resolve_model`).
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
        memory: ExperienceStore | None = _UNSET,
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
        self._model = _for_chat(model) if model is not None else None
        if memory is _UNSET:
            from xolver.memory.stores import StoreSpec, open_store

            memory = open_store(StoreSpec(backend="memory"))
        self.memory: ExperienceStore | None = memory
        self.memory_label = memory_label
        self.compact = compact
        self._model_factory = model_factory
        self._clock = clock
        self.quiet_tty = quiet_tty
        self.turns: list[Turn] = []
        self._context_from = 0
        self._xolver: Xolver | None = None
        self._task: asyncio.Task[Any] | None = None
        self._interrupted = False
        self.live = console.is_terminal and not console.is_dumb_terminal

    # ----------------------------------------------------------------- the team

    @property
    def model(self) -> Model:
        if self._model is None:
            from xolver.models import model_from_config

            cfg = self.config
            self._model = _for_chat(model_from_config(cfg))
        return self._model

    def xolver(self) -> Xolver:
        """The `Xolver` for the current settings (rebuilt after /model, /agents, /rounds)."""
        if self._xolver is None:
            from xolver.api import Xolver

            self._xolver = Xolver(self.model, config=self.config, memory=self.memory)
        return self._xolver

    def _reconfigure(self, **changes: Any) -> None:
        from pydantic import ValidationError

        from xolver.config import XolverConfig

        try:
            self.config = XolverConfig.model_validate({**self.config.model_dump(), **changes})
        except ValidationError as e:
            raise _Hint(e.errors()[0]["msg"]) from e
        self._xolver = None

    def status(self) -> str:
        """Model and team in a few words (banner, toolbar)."""
        cfg = self.config
        view = "compact" if self.compact else "full"
        model = self._model.name if self._model is not None else cfg.model
        return f"{model} · {cfg.agents} agents · {cfg.rounds} rounds · {view} view"

    def close(self) -> None:
        """Release the model and the memory store."""
        model, self._model, self._xolver = self._model, None, None
        for thing in (model, self.memory):
            close = getattr(thing, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()

    # ----------------------------------------------------------------- the loop

    async def run(self) -> int:
        """Read and answer until the user leaves; return the exit code (0)."""
        self._say(
            Text.assemble(
                ("xolver chat", "bold cyan"),
                f"  {self.status()}\nmemory: {self.memory_label}\n",
                ("Enter on an empty line or Alt-Enter sends; /help lists commands; Ctrl-D leaves.", "dim"),
            )
        )
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
                    self._say(Text.assemble((_PROMPT, "bold"), text))
                if text.startswith("/"):
                    if not await self.command(text):
                        break
                    continue
                await self.ask(text)
        finally:
            self.close()
        self._say(Text("bye", style="dim"))
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
        with _on_sigint(self.interrupt):
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
            xo = self.xolver()
            with _no_echo(self.quiet_tty):
                solution = await self._interruptible(self._drive(xo, problem, view))
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            turn.outcome = "cancelled"
            turn.detail = f"{view.calls} model calls, {view.tokens} tokens, {view.elapsed:.1f} s"
            view.note = f"cancelled: {turn.detail}"
            self._say(view if self.live else Text(f"solve cancelled after {turn.detail}"))
            self._say(Text("cancelled; back at the prompt", style="yellow"))
            self.turns.append(turn)
            return None
        except ModelError as e:
            turn.outcome, turn.detail = "error", str(e)
            self._error_panel("model error", str(e), "the session goes on; /model NAME switches models")
            self.turns.append(turn)
            return None
        except XolverError as e:
            turn.outcome, turn.detail = "error", str(e)
            self._error_panel("error", str(e), "")
            self.turns.append(turn)
            return None
        except Exception as e:  # the session must survive a bug in one solve
            turn.outcome, turn.detail = "error", f"{type(e).__name__}: {e}"
            self._error_panel("unexpected error", turn.detail, "the session goes on")
            self.turns.append(turn)
            return None
        turn.solution = solution
        self.turns.append(turn)
        if self.live:
            self._say(view)
            self._say(SolutionPanel(solution))
        return solution

    async def _drive(self, xo: Xolver, problem: str, view: SolveView) -> Solution:
        from xolver.ui.log import EventLine

        solution: Solution | None = None
        if self.live:
            from rich.live import Live

            with Live(view, console=self.console, refresh_per_second=8, transient=True):
                async for event in xo.astream(problem):
                    solution = view.consume(event) or solution
        else:
            async for event in xo.astream(problem):
                solution = view.consume(event) or solution
                self._say(EventLine(event))
        if solution is None:  # pragma: no cover - astream always ends with SolveFinished or raises
            raise UserError("the solve ended without a solution")
        return solution

    # ----------------------------------------------------------------- commands

    async def command(self, text: str) -> bool:
        """Run one ``/command``; return False when the session should end."""
        name, _, rest = text[1:].partition(" ")
        name, rest = name.strip().lower(), rest.strip()
        if name in ("quit", "exit", "q"):
            return False
        handler = self._commands().get(name)
        if handler is None:
            self._hint(f"unknown command /{name}; /help lists the commands")
            return True
        try:
            await handler(rest)
        except _Hint as e:
            self._hint(str(e))
        except XolverError as e:
            self._hint(f"/{name}: {e}")
        except Exception as e:  # a command must never end the session with a traceback
            self._hint(f"/{name} failed: {type(e).__name__}: {e}")
        return True

    def _commands(self) -> dict[str, Callable[[str], Awaitable[None]]]:
        return {
            "help": self._cmd_help,
            "model": self._cmd_model,
            "agents": self._cmd_agents,
            "rounds": self._cmd_rounds,
            "view": self._cmd_view,
            "memory": self._cmd_memory,
            "trace": self._cmd_trace,
            "save": self._cmd_save,
            "cost": self._cmd_cost,
            "clear": self._cmd_clear,
        }

    async def _cmd_help(self, rest: str) -> None:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for usage, what in _HELP:
            table.add_row(escape(usage), what)
        self._say(table)
        self._say(Text("Enter on an empty line or Alt-Enter sends; Ctrl-C cancels a running solve.", style="dim"))

    async def _cmd_model(self, rest: str) -> None:
        if not rest:
            self._say(Text(f"model: {self.model.name}  ({self.config.model})"))
            return
        if len(rest.split()) != 1:
            raise _Hint("usage: /model NAME, e.g. /model local or /model openai/gpt-4o-mini")
        factory = self._model_factory
        if factory is None:
            from xolver.models import model_from_config

            cfg = self.config

            def factory(name: str) -> Model:
                # The reasoning override describes the configured model, not this one: detect it.
                return model_from_config(cfg.model_copy(update={"model": name, "reasoning": None}))

        new = _for_chat(factory(rest))  # a UserError (unknown provider, missing file) becomes a hint
        old = self._model
        self._reconfigure(model=rest)
        self._model = new
        if old is not None and old is not new:
            close = getattr(old, "close", None)
            if callable(close):
                close()
        self._say(Text(f"model: {new.name}"))

    async def _cmd_agents(self, rest: str) -> None:
        self._reconfigure(agents=_int_arg(rest, "/agents N", 1, 16))
        self._say(Text(f"agents: {self.config.agents}"))

    async def _cmd_rounds(self, rest: str) -> None:
        self._reconfigure(rounds=_int_arg(rest, "/rounds N", 0, 20))
        self._say(Text(f"rounds: {self.config.rounds} after the first ({self.config.total_rounds} in all)"))

    async def _cmd_view(self, rest: str) -> None:
        if rest not in ("compact", "full"):
            raise _Hint("usage: /view compact | /view full")
        self.compact = rest == "compact"
        self._say(Text(f"view: {rest}"))

    async def _cmd_memory(self, rest: str) -> None:
        sub, _, query = rest.partition(" ")
        query = query.strip()
        if sub not in ("search", "stats") or (sub == "search" and not query):
            raise _Hint("usage: /memory search QUERY | /memory stats")
        store = self.memory
        if store is None:
            raise _Hint("this session has no experience memory")
        namespace = self.config.namespace
        if sub == "stats":
            data = await asyncio.to_thread(store.stats)
            total = await asyncio.to_thread(store.count, namespace=namespace)
            table = Table(box=None, show_header=False, pad_edge=False)
            table.add_column(style="bold")
            table.add_column()
            table.add_row("memory", self.memory_label)
            table.add_row(f"records in {namespace!r}", str(total))
            for group, counts in (("kind", data.by_kind), ("domain", data.by_domain), ("source", data.by_source)):
                for value, count in counts.items():
                    if count:
                        table.add_row(group, f"{value}: {count}")
            if data.embedder:
                table.add_row("embedder", data.embedder)
            self._say(table)
            return
        hits = await asyncio.to_thread(store.search, query, k=5, namespace=namespace)
        if not hits:
            self._say(Text("no matching records"))
            return
        width = max(20, self.console.width - 20)
        from xolver._text import clip

        for i, hit in enumerate(hits, start=1):
            r = hit.record
            answer = f"  → {clip(r.answer, 40)}" if r.answer else ""
            self._say(
                Text.assemble(
                    (f"{i}. {hit.score:.3f} ", "bold"),
                    (f"[{r.kind}] ", "magenta"),
                    clip(r.text, width),
                    (answer, "green"),
                )
            )

    def _last_solution(self) -> Solution:
        for turn in reversed(self.turns):
            if turn.solution is not None:
                return turn.solution
        raise _Hint("no solve yet: ask a question first")

    async def _cmd_trace(self, rest: str) -> None:
        from xolver.ui.transcript import TraceView

        self._say(TraceView(self._last_solution()))

    async def _cmd_save(self, rest: str) -> None:
        from xolver.ui.transcript import transcript_markdown

        if not rest:
            raise _Hint("usage: /save FILE.json (the last Solution) or /save FILE.md (the transcript)")
        path = Path(rest).expanduser()
        suffix = path.suffix.lower()
        if suffix == ".json":
            content = self._last_solution().model_dump_json(indent=2) + "\n"
        elif suffix in (".md", ".markdown"):
            if not self.turns:
                raise _Hint("nothing to save yet: ask a question first")
            content = transcript_markdown(self.turns, model=self.config.model)
        else:
            wrong = suffix or "no suffix"
            raise _Hint(f"/save writes .json (the last Solution) or .md (the transcript), not {wrong!r}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        except OSError as e:
            raise _Hint(f"cannot write {str(path)!r}: {e.strerror or e}") from e
        self._say(Text(f"saved {path}"))

    async def _cmd_cost(self, rest: str) -> None:
        from xolver.ui.transcript import CostView

        self._say(CostView(self.turns))

    async def _cmd_clear(self, rest: str) -> None:
        if self.live:
            self.console.clear()
        self._context_from = len(self.turns)
        self._say(Text("new conversation: earlier turns are no longer sent with questions", style="dim"))

    # ----------------------------------------------------------------- output

    def _say(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def _hint(self, message: str) -> None:
        self.console.print(Text(message, style="yellow"), soft_wrap=True)

    def _error_panel(self, title: str, message: str, hint: str) -> None:
        body = Text(message)
        if hint:
            body.append(f"\n{hint}", style="dim")
        self.console.print(Panel(body, title=title, title_align="left", border_style="red"))


def _int_arg(text: str, usage: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _Hint(f"usage: {usage} (a whole number from {low} to {high})") from None
    if not low <= value <= high:
        raise _Hint(f"usage: {usage} (a whole number from {low} to {high}, got {value})")
    return value


@contextlib.contextmanager
def _no_echo(enabled: bool) -> Iterator[None]:
    """Turn off the echo of stdin's terminal inside the block (Ctrl-C still sends SIGINT)."""
    import sys

    try:
        import termios
    except ImportError:  # pragma: no cover - Windows
        enabled = False
    if not enabled or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~(termios.ECHO | termios.ECHOCTL)
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


@contextlib.contextmanager
def _on_sigint(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` on SIGINT (Ctrl-C) inside the block, when the loop can take signals."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, callback)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


# --------------------------------------------------------------------- command line

_EPILOG = """\
keys: Enter starts a new line, Enter on an empty line (or Alt-Enter) sends, so a whole problem can be
pasted; a one-line /command runs on Enter. Ctrl-C cancels a running solve; Ctrl-C or Ctrl-D at an
empty prompt leaves. History is kept in $XOLVER_HOME/chat_history (default ~/.xolver).

piped input is read line by line (a trailing backslash continues a line), and piped output is plain
text:  printf 'What is 17 * 23?\\n/save out.json\\n' | xolver chat --model local"""


def register(subparsers: Any) -> None:
    """Add ``xolver chat`` and ``xolver show`` to the CLI."""
    from xolver.cli import add_model_options, add_team_options

    chat = subparsers.add_parser(
        "chat",
        help="a terminal chat that shows the team at work",
        description="Chat with the team: ask questions, watch roles, drafts, scores and memory live.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_options(chat)
    add_team_options(chat)
    chat.add_argument(
        "--memory",
        type=Path,
        metavar="PATH",
        help="persistent experience memory folder (default: an in-process memory for this session)",
    )
    chat.add_argument("--compact", action="store_true", help="one status line per agent")
    chat.set_defaults(handler=run_chat)

    show = subparsers.add_parser(
        "show",
        help="show a saved Solution (from /save FILE.json or `xolver solve --json`)",
        description="Show a Solution saved as JSON.",
    )
    show.add_argument("file", type=Path, help="the JSON file")
    show.add_argument("--trace", action="store_true", help="the full trajectory, not only the answer")
    show.set_defaults(handler=run_show)


def _open_memory(path: Path | None, config: XolverConfig, console: Console) -> tuple[ExperienceStore | None, str]:
    from xolver.memory.stores import StoreSpec, open_store

    in_process = StoreSpec(backend="memory")
    if path is None:
        return open_store(in_process), "this session only (in process); --memory PATH keeps it"
    with console.status(f"opening memory at {path}…") if console.is_terminal else contextlib.nullcontext():
        try:
            store = open_store(StoreSpec(backend="chroma", path=path, embedder=config.embedder))
        except ImportError as e:
            console.print(Text(f"persistent memory unavailable ({e}); using an in-process memory", style="yellow"))
            return open_store(in_process), "this session only (in process)"
    return store, str(path)


def run_chat(args: argparse.Namespace) -> int:
    """The ``xolver chat`` handler."""
    import sys

    from xolver.cli import config_from_args
    from xolver.ui.input import StreamReader, TerminalReader

    config = config_from_args(args, stream_tokens=True)
    console = Console(highlight=False)
    memory, label = _open_memory(args.memory, config, console)
    session: ChatSession
    if sys.stdin.isatty() and console.is_terminal:
        reader: LineReader = TerminalReader(toolbar=lambda: session.status())
    else:
        reader = StreamReader(sys.stdin)
    session = ChatSession(
        console,
        reader,
        config=config,
        memory=memory,
        memory_label=label,
        compact=args.compact,
        quiet_tty=isinstance(reader, TerminalReader),
    )
    return asyncio.run(session.run())


def run_show(args: argparse.Namespace) -> int:
    """The ``xolver show FILE`` handler."""
    from pydantic import ValidationError

    from xolver.solution import Solution
    from xolver.ui.progress import SolutionPanel
    from xolver.ui.transcript import TraceView

    try:
        solution = Solution.model_validate_json(Path(args.file).read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"cannot read {str(args.file)!r}: {e.strerror or e}") from e
    except ValidationError as e:
        raise UserError(f"{str(args.file)!r} is not a saved Solution: {e.errors()[0]['msg']}") from e
    console = Console(highlight=False)
    if args.trace:
        console.print(TraceView(solution))
    console.print(SolutionPanel(solution))
    return 0
