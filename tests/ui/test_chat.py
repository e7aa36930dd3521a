"""The chat loop driven by scripted input and scripted / function models."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests._support.scripts import PLAN, by_role, program, solved, verdict
from xolver.config import XolverConfig
from xolver.errors import TransientModelError
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.solution import Solution
from xolver.ui.chat import ChatSession, compose_problem
from xolver.ui.input import ScriptedReader, StreamReader
from xolver.ui.transcript import Turn


def good_model(answer: str = "391") -> FunctionModel:
    """A team that agrees at once: reasoning and the program seat both give `answer`, so no judge is asked."""
    return FunctionModel(by_role(planner=PLAN, solver=solved(answer), judge=verdict(1, "correct"), verifier=answer))


def split_model() -> FunctionModel:
    """A team that disagrees at first, so the judge is asked (run it with ``rounds=1``).

    In the first round the program seat (agent 1) prints 381 and agent 2 reasons its way to 391;
    the judge's blind check prints 391, which only ties the vote; the judge scores 391 1 ("correct")
    and 381 0 ("wrong carry"); in the second round both agents give 391 and agree.
    """

    def solver(request: ModelRequest) -> str:
        wrong = request.tags.agent == 0 and request.tags.round == 0
        return solved("381" if wrong else "391")

    def judge(request: ModelRequest) -> str:
        if "Candidate's final answer: 381" in request.messages[-1].content:
            return verdict(0, "wrong carry")
        return verdict(1, "correct")

    return FunctionModel(by_role(planner=PLAN, solver=solver, judge=judge, verifier="391", blind="391"))


def session(
    inputs: list[Any],
    model: Any = None,
    *,
    width: int = 80,
    terminal: bool = False,
    rounds: int = 0,
    **kwargs: Any,
) -> tuple[ChatSession, Console]:
    console = Console(file=io.StringIO(), width=width, force_terminal=terminal)
    chat = ChatSession(
        console,
        ScriptedReader(inputs),
        # The paper's refinement: the judge gives its opinions, which these views show.
        config=XolverConfig(agents=2, rounds=rounds, later_rounds="refine", judge_opinions="always"),
        model=model or good_model(),
        clock=lambda: 0.0,
        **kwargs,
    )
    return chat, console


def run(chat: ChatSession) -> int:
    return asyncio.run(chat.run())


def text(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def plain(out: str) -> str:
    """`out` without terminal control sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)


def test_a_question_is_answered_with_the_team_in_plain_text() -> None:
    chat, console = session(["How many pens in 17 boxes of 23?", "/quit"], split_model(), rounds=1)
    assert run(chat) == 0
    out = text(console)
    assert "\x1b" not in out  # not a terminal: no control codes
    assert "› How many pens in 17 boxes of 23?" in out  # piped input is echoed
    assert "Team: Calculator, Checker." in out
    assert "Round 1: the judge's blind check (its own program) printed 391." in out
    assert "Round 1: agent 2 scored 1.00: correct" in out and "Round 1: agent 1 scored 0.00: wrong carry" in out
    assert "Answer: 391 (from " in out and "Checked: the judge's own program" in out
    assert out.rstrip().endswith("bye")
    assert chat.turns[0].solution is not None and chat.turns[0].solution.answer == "391"


def test_live_view_on_a_terminal_ends_with_team_and_answer_panel() -> None:
    chat, console = session(["How many pens in 17 boxes of 23?"], split_model(), terminal=True, width=100, rounds=1)
    assert run(chat) == 0
    out = text(console)
    assert "\x1b[" in out  # drawn live
    out = plain(out)
    final = out[out.rindex("How many pens in 17 boxes of 23?") :]
    assert "Calculator" in final and "1.00" in final and "╭─ answer" in final and "391" in final
    assert "checked: the judge's own program" in final


def test_follow_up_turns_see_the_conversation() -> None:
    model = good_model()
    chat, _ = session(["How many pens in 17 boxes of 23?", "And doubled?", "/clear", "Fresh question"], model)
    run(chat)
    problems = [r.messages[-1].content for r in model.requests if r.tags.role == "planner"]
    assert "Earlier" not in problems[0]
    assert (
        "Q: How many pens in 17 boxes of 23?\nA: 391" in problems[1]
        and "Follow-up question (answer this one): And doubled?" in problems[1]
    )
    assert "Earlier" not in problems[2]  # /clear started a fresh conversation
    assert [t.question for t in chat.turns] == ["How many pens in 17 boxes of 23?", "And doubled?", "Fresh question"]


def test_compose_problem_quotes_only_the_last_answered_turns() -> None:
    sol = Solution(problem="p", answer="1")
    turns = [Turn(f"q{i}", sol) for i in range(5)] + [Turn("cancelled one", outcome="cancelled")]
    composed = compose_problem("next?", turns)
    assert "q0" not in composed and "q1" not in composed and "Q: q4" in composed and "cancelled one" not in composed
    assert compose_problem("first", []) == "first"


def test_slash_commands(tmp_path: Path) -> None:
    store = InMemoryExperienceStore([ExperienceRecord(text="Multiply 17 by 23 quickly", answer="391")])
    made: list[str] = []

    def factory(name: str) -> Any:
        made.append(name)
        return good_model("42")

    chat, console = session(
        [
            "/help",
            "/trace",
            "/save nothing.json",
            "/cost",
            "How many pens in 17 boxes of 23?",
            "/agents 3",
            "/rounds 2",
            "/view compact",
            "/model other/model",
            "/memory stats",
            "/memory search multiply 17",
            "/trace",
            "/cost",
            f"/save {tmp_path / 'last.json'}",
            f"/save {tmp_path / 'sub' / 'chat.md'}",
            "/exit",
            "never read",
        ],
        split_model(),
        rounds=1,
        memory=store,
        memory_label="test store",
        model_factory=factory,
    )
    run(chat)
    out = text(console)
    assert "/memory search QUERY" in out and "/save FILE" in out  # /help
    assert out.count("no solve yet: ask a question first") == 2  # /trace and /save before any solve
    assert "no solves yet" in out  # /cost before any solve
    assert "agents: 3" in out and "rounds: 2 after the first (3 in all)" in out and "view: compact" in out
    assert made == ["other/model"] and "model: function" in out
    assert chat.config.agents == 3 and chat.config.rounds == 2 and chat.config.model == "other/model" and chat.compact
    assert "test store" in out and "records in 'default'  2" in out  # the solve wrote one back
    assert "[problem] Multiply 17 by 23 quickly" in out and "→ 391" in out
    assert "agent 2 · Checker · score 1.00" in out and "agent 1 · Calculator · score 0.00" in out  # /trace
    assert "last solve by role" in out  # /cost
    saved = Solution.model_validate_json((tmp_path / "last.json").read_text())
    assert saved.answer == "391" and [r.name for r in saved.roles] == ["Calculator", "Checker"]
    assert "**Answer:** 391" in (tmp_path / "sub" / "chat.md").read_text()
    assert "never read" not in out


@pytest.mark.parametrize(
    ("command", "hint"),
    [
        ("/frobnicate", "unknown command /frobnicate; /help lists the commands"),
        ("/agents", "usage: /agents N (a whole number from 1 to 16)"),
        ("/agents lots", "usage: /agents N (a whole number from 1 to 16)"),
        ("/agents 0", "usage: /agents N (a whole number from 1 to 16, got 0)"),
        ("/rounds -1", "usage: /rounds N (a whole number from 0 to 20, got -1)"),
        ("/rounds 2.5", "usage: /rounds N"),
        ("/view sideways", "usage: /view compact | /view full"),
        ("/memory", "usage: /memory search QUERY | /memory stats"),
        ("/memory search", "usage: /memory search QUERY | /memory stats"),
        ("/memory forget all", "usage: /memory search QUERY | /memory stats"),
        ("/save", "usage: /save FILE.json"),
        ("/save out.txt", "/save writes .json (the last Solution) or .md (the transcript), not '.txt'"),
        ("/save out.md", "nothing to save yet: ask a question first"),
        ("/model two words", "usage: /model NAME"),
        ("/model gpt4", "needs a provider prefix"),
        ("/model local//no/such.gguf", "local model file not found"),
    ],
)
def test_bad_commands_get_a_one_line_hint(command: str, hint: str) -> None:
    chat, console = session([command, "/agents 2"])
    assert run(chat) == 0
    out = text(console)
    assert hint in out and "Traceback" not in out
    after = out[out.index(f"› {command}") :].splitlines()
    assert after[2] == "› /agents 2"  # the command, one line of hint, the next input


def test_save_to_an_unwritable_place_is_a_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    chat, console = session(["How many pens in 17 boxes of 23?", f"/save {blocker / 'x.json'}"])
    run(chat)
    assert "cannot write" in text(console)


def test_memory_commands_without_a_store() -> None:
    chat, console = session(["/memory stats"], memory=None)
    run(chat)
    assert "this session has no experience memory" in text(console)


def test_provider_error_is_a_panel_and_the_session_goes_on() -> None:
    # The provider is down for the whole first solve: a solve survives some failed calls, but one
    # in which every call failed is a model error.
    def flaky(request: ModelRequest) -> Any:
        if any("(provider down)" in m.content for m in request.messages):
            return TransientModelError("openai/x: rate limited after 3 retries", model="openai/x")
        return by_role(planner=PLAN, solver=solved("391"), judge=verdict(1), verifier="391")(request)

    chat, console = session(
        ["How many pens in 17 boxes of 23? (provider down)", "How many pens in 17 boxes of 23?"],
        FunctionModel(flaky),
        width=120,
    )
    assert run(chat) == 0
    out = text(console)
    assert "╭─ model error" in out and "rate limited after 3 retries" in out and "Traceback" not in out
    assert [t.outcome for t in chat.turns] == ["error", "answered"]
    assert "Answer: 391 (from " in out


def test_an_unexpected_failure_in_a_solve_does_not_end_the_session() -> None:
    def broken(request: ModelRequest) -> Any:
        raise RuntimeError("bug in a backend")

    chat, console = session(["How many pens in 17 boxes of 23?", "/cost"], FunctionModel(broken))
    assert run(chat) == 0
    out = text(console)
    assert "unexpected error" in out and "RuntimeError: bug in a backend" in out and "no solves yet" in out


def blocking_model(on_block: Callable[[], None]) -> FunctionModel:
    """Answers the planner, then blocks every solver call until cancelled (after calling `on_block`)."""

    async def handler(request: ModelRequest) -> Any:
        if request.tags.role == "solver":
            on_block()
            await asyncio.Event().wait()
        return by_role(planner=PLAN, solver=solved("391"), judge=verdict(1), verifier="391")(request)

    return FunctionModel(handler)


@pytest.mark.parametrize("terminal", [False, True])
def test_interrupt_mid_solve_returns_to_the_prompt(terminal: bool) -> None:
    holder: dict[str, ChatSession] = {}
    model = blocking_model(lambda: holder["chat"].interrupt())
    chat, console = session(["How many pens in 17 boxes of 23?", "/cost", "/quit"], model, terminal=terminal)
    holder["chat"] = chat
    assert run(chat) == 0
    out = plain(text(console))
    assert "cancelled" in out and "1 model calls" in out and "back at the prompt" in out
    assert "no solves yet" in out  # /cost ran: the session went on
    assert chat.turns[0].outcome == "cancelled"
    if terminal:
        assert "Calculator" in out[out.rindex("cancelled: ") - 600 :]  # what was done is shown


def test_sigint_mid_solve_cancels_it() -> None:
    model = blocking_model(lambda: os.kill(os.getpid(), signal.SIGINT))
    chat, console = session(["How many pens in 17 boxes of 23?", "/quit"], model)
    assert run(chat) == 0
    assert "solve cancelled after 1 model calls" in text(console)


def test_ctrl_c_and_ctrl_d_at_the_prompt_leave() -> None:
    for leave in (KeyboardInterrupt(), EOFError()):
        chat, console = session([leave, "not read"])
        assert run(chat) == 0
        assert "bye" in text(console) and "not read" not in text(console)


def test_stream_reader_reads_lines_with_continuations() -> None:
    reader = StreamReader(io.StringIO("first question\nlong \\\nproblem\n\n/quit\nlast"))

    async def read_all() -> list[str]:
        got = []
        while True:
            try:
                got.append(await reader.read("› "))
            except EOFError:
                return got

    assert asyncio.run(read_all()) == ["first question", "long \nproblem", "", "/quit", "last"]


def test_chat_command_with_piped_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`xolver chat` through `main`, stdin and stdout piped, a fake OpenAI-compatible server."""
    from tests._support.fake_openai import fake_openai_server
    from xolver.cli import main
    from xolver.models import allow_model_requests

    def respond(body: dict[str, Any]) -> tuple[int, str]:
        prompt = body["messages"][-1]["content"]
        if "expert roles" in prompt:
            return 200, PLAN
        if "Candidate solution" in prompt:
            wrong = "Candidate's final answer: 381" in prompt
            return 200, verdict(0, "wrong carry") if wrong else verdict(1, "checked by hand")
        if "Reply with the program only" in prompt:  # a program seat, or the judge's blind check
            # The program seat's first program is wrong, so the team disagrees and the judge is asked.
            return 200, program("381" if "Write a short Python program" in prompt else "391")
        return 200, solved("391")

    out_file = tmp_path / "s.json"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"How many pens in 17 boxes of 23?\n/save {out_file}\n/bogus\n"))
    with fake_openai_server(respond) as (base, _), allow_model_requests():
        code = main(
            [
                "chat",
                "-m",
                "openai/tiny",
                "--api-base",
                base,
                "-a",
                "2",
                "-r",
                "1",
                "--later-rounds",
                "refine",
                "--judge-opinions",
                "always",
                "--compact",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "checked by hand" in out and "wrong carry" in out and "unknown command /bogus" in out
    assert "Answer: 391 (from " in out and "Checked: the judge's own program" in out
    assert json.loads(out_file.read_text())["answer"] == "391"
    assert main(["show", str(out_file)]) == 0
    assert "391" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["show", str(bad)]) == 1
    assert "is not a saved Solution" in capsys.readouterr().err
