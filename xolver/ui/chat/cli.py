"""``xolver chat`` and ``xolver show``: their arguments, and a session built from them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from xolver.errors import UserError
from xolver.ui.chat.session import ChatSession
from xolver.ui.input import LineReader

if TYPE_CHECKING:  # pragma: no cover
    from xolver.config import XolverConfig
    from xolver.memory.stores import StoreSpec

__all__ = ["register", "run_chat", "run_show"]

_EPILOG = """\
keys: Enter starts a new line, Enter on an empty line (or Alt-Enter) sends, so a whole problem can be
pasted; a one-line /command runs on Enter. Ctrl-C cancels a running solve; Ctrl-C or Ctrl-D at an
empty prompt leaves. History is kept in $XOLVER_HOME/chat_history (default ~/.xolver).

piped input is read line by line (a trailing backslash continues a line), and piped output is plain
text:  printf 'What is 17 * 23?\\n/save out.json\\n' | xolver chat --model local"""

_IN_PROCESS_LABEL = "this session only (in process)"


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


def _memory_spec(path: Path | None, config: XolverConfig) -> tuple[StoreSpec, str]:
    """The store ``--memory`` asks for, and how the session names it."""
    from xolver.memory.stores import StoreSpec

    if config.memory_url:
        return StoreSpec(backend="chroma", url=config.memory_url, embedder=config.embedder), config.memory_url
    if path is None:
        return StoreSpec(backend="memory"), f"{_IN_PROCESS_LABEL}; --memory PATH keeps it"
    return StoreSpec(backend="chroma", path=path, embedder=config.embedder), str(path)


def run_chat(args: argparse.Namespace) -> int:
    """The ``xolver chat`` handler.

    A persistent store (``--memory PATH``) is opened before the first prompt, so a wrong folder or
    embedder is reported at once; without chromadb the session falls back to an in-process store.
    """
    import sys

    from xolver.cli import config_from_args
    from xolver.memory.stores import StoreSpec
    from xolver.ui.input import StreamReader, TerminalReader

    config = config_from_args(args, stream_tokens=True)
    console = Console(highlight=False)
    session: ChatSession
    if sys.stdin.isatty() and console.is_terminal:
        reader: LineReader = TerminalReader(toolbar=lambda: session.status())
    else:
        reader = StreamReader(sys.stdin)

    def new_session(memory: StoreSpec, label: str) -> ChatSession:
        return ChatSession(
            console,
            reader,
            config=config,
            memory=memory,
            memory_label=label,
            compact=args.compact,
            quiet_tty=isinstance(reader, TerminalReader),
        )

    spec, label = _memory_spec(args.memory, config)
    session = new_session(spec, label)
    if args.memory is not None:
        opening = console.status(f"opening memory at {args.memory}…") if console.is_terminal else None
        with opening or contextlib.nullcontext():
            try:
                session.open_memory()
            except ImportError as e:
                console.print(Text(f"persistent memory unavailable ({e}); using an in-process memory", style="yellow"))
                session.close()
                session = new_session(StoreSpec(backend="memory"), _IN_PROCESS_LABEL)
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
