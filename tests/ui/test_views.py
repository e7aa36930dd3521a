"""The renderables of every event, captured as text at 80 and 160 columns."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from xolver.events import (
    AgentAnswered,
    AgentJudged,
    AgentStarted,
    AgentToken,
    Event,
    ExperienceRetrieved,
    MemoryWritten,
    ModelCalled,
    RolesPlanned,
    RoundFinished,
    SharedMemoryUpdated,
    SolveFinished,
    SolveStarted,
    Verified,
)
from xolver.solution import (
    CallRecord,
    Exemplar,
    PlannedRole,
    RoundRecord,
    Solution,
    Trajectory,
    UsageLedger,
)
from xolver.ui.log import EventLine
from xolver.ui.progress import SolutionPanel, SolveView
from xolver.ui.transcript import CostView, TraceView, Turn, transcript_markdown

LONG_CRITIQUE = "the multiplication is right but the answer should also state the units and show the carry " * 2


def render(renderable: RenderableType, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width)
    console.print(renderable)
    assert isinstance(console.file, io.StringIO)
    out = console.file.getvalue()
    assert "\x1b" not in out
    assert all(len(line) <= width for line in out.splitlines())
    return out


def trajectory(agent: int, role: str, answer: str, score: float | None = None, critique: str = "") -> Trajectory:
    return Trajectory(
        agent=agent,
        role=role,
        round=0,
        thought="17*23 = 17*20 + 17*3",
        response=f"so {answer}",
        answer=answer,
        score=score,
        critique=critique,
    )


def solution() -> Solution:
    best = trajectory(0, "Calculator", "391", 1.0, "correct")
    return Solution(
        problem="What is 17 * 23?",
        answer="391",
        answer_source="boxed",
        best=best,
        roles=[PlannedRole(name="Calculator", reason="computes"), PlannedRole(name="Checker", reason="checks")],
        exemplars=[Exemplar(id="e1", kind="problem", text="What is 12 * 13?", answer="156", score=0.5)],
        rounds=[
            RoundRecord(
                index=0, trajectories=[best, trajectory(1, "Checker", "381", 0.0, "wrong carry")], shared_memory=[best]
            )
        ],
        stop_reason="max_rounds",
        memory_written=["m1"],
        model="scripted",
        wall_seconds=1.5,
        usage=UsageLedger(
            calls=[
                CallRecord(role="planner", prompt_tokens=10, completion_tokens=5, cost=0.001),
                CallRecord(role="solver", agent=0, round=0, prompt_tokens=20, completion_tokens=10),
            ]
        ),
    )


EVENTS: list[tuple[Event, list[str]]] = [
    (
        SolveStarted(problem="What is 17 * 23?", model="scripted", agents=2, rounds=1),
        ["Solving with 2 agent(s), up to 1 round(s), model scripted."],
    ),
    (
        RolesPlanned(roles=[PlannedRole(name="Calculator"), PlannedRole(name="Checker")]),
        ["Team: Calculator, Checker."],
    ),
    (
        ExperienceRetrieved(exemplars=[Exemplar(id="e1", kind="problem", text="What is 12 * 13?", score=0.5)]),
        ["Retrieved 1 past experience(s).", "  0.50 What is 12 * 13?"],
    ),
    (ExperienceRetrieved(exemplars=[]), []),  # also what a solve without memory reports
    (AgentStarted(agent=0, role="Calculator", round=0), []),
    (AgentToken(role="solver", agent=0, round=0, text="17*23"), []),
    (AgentAnswered(trajectory=trajectory(0, "Calculator", "391")), ["Round 1: agent 1 (Calculator) gave answer 391."]),
    (
        AgentAnswered(trajectory=Trajectory(agent=1, role="Checker", round=0, answer=None, error="unparseable")),
        ["Round 1: agent 2 (Checker) gave no answer (unparseable)."],
    ),
    (AgentJudged(agent=0, round=0, score=1.0, critique="correct"), ["Round 1: agent 1 scored 1.00: correct"]),
    (
        SharedMemoryUpdated(round=0, entries=[trajectory(0, "Calculator", "391", 1.0)]),
        ["Round 1: shared memory updated (1 entry).", "  1.00 Calculator (agent 1): 391"],
    ),
    (RoundFinished(round=0, best_score=0.5), ["Round 1 done: best judge score 0.50."]),
    (RoundFinished(round=0, best_score=None), ["Round 1 done."]),
    (
        RoundFinished(round=1, best_score=None, stop_reason="perfect_score"),
        ["Round 2 done; stopping: every shared-memory entry scored perfectly."],
    ),
    (Verified(answer="391", source="boxed"), []),  # the answer is shown with SolveFinished, with its check
    (MemoryWritten(ids=["m1"]), ["Wrote 1 record(s) to memory."]),
    (ModelCalled(call=CallRecord(role="solver")), []),
    (SolveFinished(solution=solution()), ["Answer: 391 (from boxed).", "  2 calls, 45 tokens, $0.0010, 1.5 s"]),
    (
        SolveFinished(
            solution=solution().model_copy(update={"checked": True, "check_kind": "program", "check": "printed 391"})
        ),
        ["Answer: 391 (from boxed). Checked: printed 391.", "  2 calls, 45 tokens, $0.0010, 1.5 s"],
    ),
]


@pytest.mark.parametrize(("event", "expected"), EVENTS, ids=[f"{e.type}-{i}" for i, (e, _) in enumerate(EVENTS)])
@pytest.mark.parametrize("width", [80, 160])
def test_each_event_as_plain_lines(event: Event, expected: list[str], width: int) -> None:
    out = render(EventLine(event), width)
    assert out.splitlines() == expected


def test_long_critique_is_cut_to_the_width_in_the_log() -> None:
    out = render(EventLine(AgentJudged(agent=0, round=0, score=0.5, critique=LONG_CRITIQUE)), 80)
    assert out.count("\n") == 1 and out.rstrip().endswith("…")


def feed(view: SolveView, events: list[Event]) -> SolveView:
    for event in events:
        view.update(event)
    return view


def team_events() -> list[Event]:
    return [
        SolveStarted(problem="What is 17 * 23?", model="scripted", agents=2, rounds=2),
        RolesPlanned(roles=[PlannedRole(name="Calculator"), PlannedRole(name="Counter-example Generator")]),
        ExperienceRetrieved(exemplars=[Exemplar(id="e1", kind="problem", text="What is 12 * 13?", score=0.5)]),
        AgentStarted(agent=0, role="Calculator", round=0),
        AgentStarted(agent=1, role="Counter-example Generator", round=0),
        ModelCalled(call=CallRecord(role="planner", prompt_tokens=100, completion_tokens=20, cost=0.0012)),
    ]


def test_planning_streams_the_planner_text() -> None:
    view = feed(SolveView(clock=lambda: 0.0), [SolveStarted(problem="p", model="m", agents=2, rounds=1)])
    view.update(AgentToken(role="planner", text="Roles: 1. Calculator"))
    out = render(view)
    assert "planning roles… Roles: 1. Calculator" in out
    assert "round 1/1" in out and "calls 0  tokens 0  $0.0000  0.0 s" in out


@pytest.mark.parametrize("width", [80, 160])
def test_drafts_stream_per_agent_and_show_their_newest_words(width: int) -> None:
    view = feed(SolveView(clock=lambda: 0.0), team_events())
    for word in ("First ", "multiply ", "17 by 20 ", "then " * 40, "THE-NEWEST-WORD"):
        view.update(AgentToken(role="solver", agent=0, round=0, text=word))
    out = render(view, width)
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if " 1 Calculator" in line)
    assert "writing" in lines[row]
    assert "draft" in lines[row + 1] and "THE-NEWEST-WORD" in lines[row + 1]
    assert " 2 Counter-example" in out and "thinking" in out
    assert "memory: 1 retrieved (best 0.50: What is 12 * 13?)" in out
    assert "calls 1  tokens 120  $0.0012" in out


@pytest.mark.parametrize("width", [80, 160])
def test_judged_team_shows_scores_critiques_shared_memory_stop_and_answer(width: int) -> None:
    view = feed(SolveView(clock=lambda: 0.0), team_events())
    feed(
        view,
        [
            AgentToken(role="judge", agent=1, round=0, text="Critique: hmm"),
        ],
    )
    assert "judging" in render(view, width)
    feed(
        view,
        [
            AgentAnswered(trajectory=trajectory(0, "Calculator", "391")),
            AgentAnswered(trajectory=trajectory(1, "Counter-example Generator", "381")),
            AgentJudged(agent=0, round=0, score=1.0, critique=LONG_CRITIQUE),
            AgentJudged(agent=1, round=0, score=0.0, critique="wrong carry"),
            SharedMemoryUpdated(
                round=0,
                entries=[
                    trajectory(0, "Calculator", "391", 1.0, "correct"),
                    trajectory(1, "Counter-example Generator", "381", 0.0),
                ],
            ),
            RoundFinished(round=0, best_score=1.0, stop_reason="max_rounds"),
            Verified(answer="391", source="boxed"),
            MemoryWritten(ids=["m1"]),
        ],
    )
    out = render(view, width)
    assert " 1.00  391" in out and " 0.00  381" in out
    assert "judge the multiplication is right" in out and "judge wrong carry" in out
    assert "shared memory after round 1" in out
    assert "1.00  Calculator (agent 1, r1): 391  correct" in out
    assert "stopping: all rounds done" in out
    assert "answer: 391  (boxed)" in out
    assert "memory: 1 retrieved (best 0.50: What is 12 * 13?); 1 written" in out
    critique_line = next(line for line in out.splitlines() if "the multiplication" in line)
    if width == 80:
        assert "…" in critique_line  # cut to one line at 80 columns
    else:
        assert "show the carry the multiplication" in critique_line  # more of it on a wide terminal


def test_compact_view_is_one_line_per_agent() -> None:
    view = feed(SolveView(compact=True, clock=lambda: 0.0), team_events())
    view.update(AgentToken(role="solver", agent=0, round=0, text="drafting"))
    view.update(AgentJudged(agent=1, round=0, score=0.5, critique="meh"))
    out = render(view)
    assert len(out.splitlines()) == 2 + 1 + 2  # borders, header, two agents
    assert "drafting" not in out and "meh" not in out and "0.50" in out


def test_solve_finished_sets_time_and_answer() -> None:
    view = feed(SolveView(clock=lambda: 0.0), team_events())
    view.update(SolveFinished(solution=solution()))
    out = render(view)
    assert "1.5 s" in out and "answer: 391  (boxed)" in out and "1 written" in out


@pytest.mark.parametrize("width", [80, 160])
def test_solution_panel(width: int) -> None:
    out = render(SolutionPanel(solution()), width)
    assert "╭─ answer" in out and "391" in out
    assert "from: Calculator (agent 1, round 1, reasoning, score 1.00)" in out
    assert "not checked by execution" in out
    assert "memory: 1 retrieved, 1 written" in out and "$0.0010" in out


def test_trace_shows_every_round_and_usage() -> None:
    out = render(TraceView(solution()), 100)
    for text in (
        "problem: What is 17 * 23?",
        "Calculator",
        "computes",
        "0.50 [problem] What is 12 * 13?",
        "round 1",
        "agent 2 · Checker · score 0.00",
        "judge: wrong carry",
        "response: so 381",
        "shared memory after the round:",
        "answer: 391 (boxed)",
        "not checked by execution",
        "memory written: m1",
        "planner",
        "solver",
    ):
        assert text in out, text


def test_cost_view_totals_and_roles() -> None:
    turns = [Turn("What is 17 * 23?", solution()), Turn("slow one", outcome="cancelled"), Turn("again", solution())]
    out = render(CostView(turns))
    assert "total" in out and "4" in out and "90" in out and "$0.0020" in out and "3.0 s" in out
    assert "last solve by role" in out
    assert render(CostView([])).strip() == "no solves yet"


def test_transcript_markdown() -> None:
    md = transcript_markdown(
        [Turn("What is 17 * 23?", solution()), Turn("line one\nline two", outcome="error", detail="rate limited")],
        model="scripted",
    )
    assert md.startswith("# xolver chat transcript")
    assert "## 1. What is 17 * 23?" in md and "**Answer:** 391" in md
    assert "  - Checker (agent 2, reasoning): `381` score 0.00 — wrong carry" in md
    assert "Not checked by execution." in md and "Checked:" not in md
    checked = solution().model_copy(update={"checked": True, "check_kind": "program", "check": "printed 391"})
    assert "Checked: printed 391." in transcript_markdown([Turn("What is 17 * 23?", checked)])
    assert "## 2. line one" in md and "```text\nline one\nline two\n```" in md and "*error*: rate limited" in md


def test_tool_calls_are_shown_in_the_log_and_the_live_view() -> None:
    import io

    from rich.console import Console

    from xolver.events import AgentStarted, RolesPlanned, SolveStarted, ToolCalled
    from xolver.solution import PlannedRole, ToolCall
    from xolver.ui.log import event_text
    from xolver.ui.progress import SolveView

    event = ToolCalled(agent=0, round=0, call=ToolCall(tool="python", input="print(17*23)", output="391\n"))
    assert event_text(event) == ["Round 1: agent 1 ran python: 391"]
    view = SolveView()
    view.update(SolveStarted(problem="What is 17 * 23?", model="m", agents=1, rounds=1))
    view.update(RolesPlanned(roles=[PlannedRole(name="Calculator")]))
    view.update(AgentStarted(agent=0, role="Calculator", round=0))
    view.update(event)
    out = io.StringIO()
    Console(file=out, width=80).print(view)
    assert "ran python" in out.getvalue() and "[python output] 391" in out.getvalue()
