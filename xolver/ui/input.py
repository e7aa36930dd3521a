"""Where `xolver chat` reads its input: a line editor on a terminal, lines from anything else.

Both readers raise `EOFError` when the user leaves (Ctrl-D, end of input) and `KeyboardInterrupt`
for Ctrl-C at the prompt.

On a terminal (`TerminalReader`, prompt_toolkit) input is multi-line, so a whole problem can be
pasted: Enter starts a new line, Enter on an empty line sends, Alt-Enter (or Esc then Enter) sends at
once, and a one-line ``/command`` is sent by Enter. Ctrl-C clears what was typed, or leaves when
nothing was. History persists in ``xolver_home()/chat_history``.

From a pipe or file (`StreamReader`) every line is one input, so scripts and tests can drive a
session; a line ending in a backslash continues on the next line.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, TextIO

__all__ = ["LineReader", "ScriptedReader", "StreamReader", "TerminalReader", "history_path"]


class LineReader(Protocol):
    """One input (a question or a ``/command``) at a time."""

    #: True when the terminal already shows what the user typed (the session need not echo it).
    echoes: bool
    #: True when the reader turns Ctrl-C into `KeyboardInterrupt` itself (no SIGINT handler needed).
    handles_interrupt: bool

    async def read(self, prompt: str) -> str:
        """The next input.

        Raises:
            EOFError: the user left (Ctrl-D) or the input ended.
            KeyboardInterrupt: Ctrl-C at an empty prompt.
        """
        ...


def history_path() -> Path:
    """The chat history file: ``xolver_home()/chat_history``."""
    from xolver.config import xolver_home

    return xolver_home() / "chat_history"


class TerminalReader:
    """A prompt_toolkit line editor with persistent history and multi-line input.

    Args:
        history: the history file (default `history_path()`); its folder is created.
        toolbar: returns the text of the bottom toolbar (e.g. the model and team size).
    """

    echoes = True
    handles_interrupt = True

    def __init__(self, history: Path | None = None, *, toolbar: Callable[[], str] | None = None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        path = history or history_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._toolbar = toolbar
        self._session: PromptSession[str] = PromptSession(
            history=FileHistory(str(path)),
            multiline=True,
            key_bindings=_key_bindings(),
            prompt_continuation=lambda width, line_number, wrap_count: "." * (width - 1) + " ",
            bottom_toolbar=self._bottom_toolbar,
            enable_history_search=False,
        )

    def _bottom_toolbar(self) -> str:
        hint = "Enter on an empty line or Alt-Enter sends · /help · Ctrl-D quits"
        return f" {self._toolbar()} · {hint}" if self._toolbar else f" {hint}"

    async def read(self, prompt: str) -> str:
        return await self._session.prompt_async(prompt)


def _key_bindings() -> Any:
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    bindings = KeyBindings()

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        text = buffer.document.text
        one_line_command = text.lstrip().startswith("/") and "\n" not in text.strip()
        at_blank_end = buffer.document.is_cursor_at_the_end and not buffer.document.current_line.strip()
        if not text.strip() or one_line_command or at_blank_end:
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @bindings.add("escape", "enter")
    def _send_now(event: KeyPressEvent) -> None:
        event.current_buffer.validate_and_handle()

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.text:
            buffer.reset()
        else:
            event.app.exit(exception=KeyboardInterrupt(), style="class:aborting")

    return bindings


class StreamReader:
    """Reads inputs line by line from a text stream (stdin when it is not a terminal).

    Lines are read in a daemon thread, so a blocked read never holds the event loop or the exit.
    """

    echoes = False
    handles_interrupt = False

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdin

    async def _readline(self) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()

        def deliver(value: str | BaseException) -> None:
            if future.done():
                return
            if isinstance(value, BaseException):
                future.set_exception(value)
            else:
                future.set_result(value)

        def work() -> None:
            try:
                value: str | BaseException = self._stream.readline()
            except (OSError, ValueError) as e:  # closed stream: treat as the end of input
                value = EOFError(str(e))
            with contextlib.suppress(RuntimeError):  # the loop closed while we were reading
                loop.call_soon_threadsafe(deliver, value)

        threading.Thread(target=work, name="xolver-chat-input", daemon=True).start()
        return await future

    async def read(self, prompt: str) -> str:
        parts: list[str] = []
        while True:
            raw = await self._readline()
            if raw == "":
                if parts:
                    return "\n".join(parts)
                raise EOFError
            text = raw.rstrip("\r\n")
            if text.endswith("\\"):
                parts.append(text[:-1])
                continue
            parts.append(text)
            return "\n".join(parts)


class ScriptedReader:
    """Inputs from a list, for tests: strings are inputs, exceptions are raised, and a callable is
    called (it may return an input, or None to go on with the next item). The end raises `EOFError`."""

    echoes = False
    handles_interrupt = True

    def __init__(self, items: Iterable[str | BaseException | Callable[[], str | None]]) -> None:
        self._items = list(items)
        self.prompts: list[str] = []

    async def read(self, prompt: str) -> str:
        self.prompts.append(prompt)
        while self._items:
            item = self._items.pop(0)
            if isinstance(item, BaseException):
                raise item
            if callable(item):
                value = item()
                if value is None:
                    continue
                return value
            return item
        raise EOFError
