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

The modules, one concept each:

    session.py    ChatSession: the read-solve-draw loop, what the solves run on (a SolveRuntime)
    commands.py   the /commands, their /help list and the dispatch
    render.py     banner, error panels, /help and /memory tables, a solve drawn as it runs
    save.py       /save: the last Solution as JSON, the transcript as Markdown
    terminal.py   the terminal during a solve: echo off, Ctrl-C as a callback
    hints.py      Hint, the one-line message a command raises
    cli.py        `xolver chat` and `xolver show`: arguments, and the session built from them
"""

from __future__ import annotations

from xolver.ui.chat.cli import register
from xolver.ui.chat.session import ChatSession, compose_problem

__all__ = ["ChatSession", "compose_problem", "register"]
