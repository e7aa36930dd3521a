"""The ``/commands`` of a chat session: the ``/help`` list, one handler per command, the dispatch.

A handler takes the session and the rest of the line. It reports a mistake (bad arguments, nothing
to show) by raising `Hint`, which `run_command` prints as one yellow line; no command ends the
session with a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from rich.text import Text

from xolver.errors import XolverError
from xolver.ui.chat.hints import Hint, int_arg
from xolver.ui.chat.render import help_table, memory_hit_lines, memory_stats_table
from xolver.ui.chat.save import last_solution, save_turns

if TYPE_CHECKING:  # pragma: no cover
    from xolver.ui.chat.session import ChatSession

__all__ = ["COMMANDS", "HELP", "run_command"]

HELP = [
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
"""Each command's usage and what it does, in the order ``/help`` lists them."""

_LEAVE = ("quit", "exit", "q")


async def run_command(session: ChatSession, text: str) -> bool:
    """Run one ``/command`` line in `session`; return False when the session should end."""
    name, _, rest = text[1:].partition(" ")
    name, rest = name.strip().lower(), rest.strip()
    if name in _LEAVE:
        return False
    handler = COMMANDS.get(name)
    if handler is None:
        session.hint(f"unknown command /{name}; /help lists the commands")
        return True
    try:
        await handler(session, rest)
    except Hint as e:
        session.hint(str(e))
    except XolverError as e:
        session.hint(f"/{name}: {e}")
    except Exception as e:  # a command must never end the session with a traceback
        session.hint(f"/{name} failed: {type(e).__name__}: {e}")
    return True


async def _help(session: ChatSession, rest: str) -> None:
    session.say(help_table(HELP))
    session.say(Text("Enter on an empty line or Alt-Enter sends; Ctrl-C cancels a running solve.", style="dim"))


async def _model(session: ChatSession, rest: str) -> None:
    if not rest:
        session.say(Text(f"model: {session.model.name}  ({session.config.model})"))
        return
    if len(rest.split()) != 1:
        raise Hint("usage: /model NAME, e.g. /model local or /model openai/gpt-4o-mini")
    new = session.switch_model(rest)  # a UserError (unknown provider, missing file) becomes a hint
    session.say(Text(f"model: {new.name}"))


async def _agents(session: ChatSession, rest: str) -> None:
    session.reconfigure(agents=int_arg(rest, "/agents N", 1, 16))
    session.say(Text(f"agents: {session.config.agents}"))


async def _rounds(session: ChatSession, rest: str) -> None:
    session.reconfigure(rounds=int_arg(rest, "/rounds N", 0, 20))
    cfg = session.config
    session.say(Text(f"rounds: {cfg.rounds} after the first ({cfg.total_rounds} in all)"))


async def _view(session: ChatSession, rest: str) -> None:
    if rest not in ("compact", "full"):
        raise Hint("usage: /view compact | /view full")
    session.compact = rest == "compact"
    session.say(Text(f"view: {rest}"))


async def _memory(session: ChatSession, rest: str) -> None:
    sub, _, query = rest.partition(" ")
    query = query.strip()
    if sub not in ("search", "stats") or (sub == "search" and not query):
        raise Hint("usage: /memory search QUERY | /memory stats")
    store = await session.aopen_memory()
    if store is None:
        raise Hint("this session has no experience memory")
    namespace = session.config.namespace
    if sub == "stats":
        stats = await asyncio.to_thread(store.stats)
        total = await asyncio.to_thread(store.count, namespace=namespace)
        session.say(memory_stats_table(session.memory_label, namespace, total, stats))
        return
    hits = await asyncio.to_thread(store.search, query, k=5, namespace=namespace)
    if not hits:
        session.say(Text("no matching records"))
        return
    for line in memory_hit_lines(hits, max(20, session.console.width - 20)):
        session.say(line)


async def _trace(session: ChatSession, rest: str) -> None:
    from xolver.ui.transcript import TraceView

    session.say(TraceView(last_solution(session.turns)))


async def _save(session: ChatSession, rest: str) -> None:
    path = save_turns(rest, session.turns, model=session.config.model)
    session.say(Text(f"saved {path}"))


async def _cost(session: ChatSession, rest: str) -> None:
    from xolver.ui.transcript import CostView

    session.say(CostView(session.turns))


async def _clear(session: ChatSession, rest: str) -> None:
    if session.live:
        session.console.clear()
    session.new_conversation()
    session.say(Text("new conversation: earlier turns are no longer sent with questions", style="dim"))


COMMANDS: dict[str, Callable[[ChatSession, str], Awaitable[None]]] = {
    "help": _help,
    "model": _model,
    "agents": _agents,
    "rounds": _rounds,
    "view": _view,
    "memory": _memory,
    "trace": _trace,
    "save": _save,
    "cost": _cost,
    "clear": _clear,
}
"""The handler of each command, by name (without the slash); ``/quit`` is handled by `run_command`."""
