"""Events describe themselves: one line per event, the same words on every surface."""

from __future__ import annotations

import typing

import pytest

from xolver._text import clip, excerpt, fit, tail
from xolver.events import (
    AgentAnswered,
    AgentJudged,
    AgentToken,
    BlindChecked,
    Event,
    ExperienceRetrieved,
    ModelCalled,
    SharedMemoryUpdated,
    SolveFinished,
    ToolCalled,
    parse_event,
)
from xolver.server.progress import describe_event
from xolver.solution import CallRecord, Exemplar, Solution, ToolCall, Trajectory
from xolver.ui.log import event_text

EVENT_TYPES: tuple[type, ...] = typing.get_args(typing.get_args(Event)[0])
MULTILINE = "first line\n\n  second   line\n" * 30


def test_every_event_type_writes_its_own_description() -> None:
    assert len(EVENT_TYPES) == 15
    for cls in EVENT_TYPES:
        assert "describe" in vars(cls), f"{cls.__name__} has no describe()"


SAMPLES: list[Event] = [
    AgentAnswered(trajectory=Trajectory(agent=0, role="Calculator", round=0, answer=MULTILINE)),
    AgentJudged(agent=1, round=2, score=None, critique=MULTILINE),
    BlindChecked(round=0, answer=MULTILINE),
    ToolCalled(agent=0, round=0, call=ToolCall(tool="python", input="print(1)", output=MULTILINE)),
    ExperienceRetrieved(exemplars=[Exemplar(id="e", kind="problem", text=MULTILINE, score=0.5)]),
    SharedMemoryUpdated(round=0, entries=[Trajectory(agent=0, role="R", round=0, response=MULTILINE)]),
    SolveFinished(solution=Solution(problem="p", answer="391", checked=True, check=MULTILINE)),
]


@pytest.mark.parametrize("event", SAMPLES, ids=[e.type for e in SAMPLES])
@pytest.mark.parametrize("width", [80, 160])
def test_a_description_is_one_line_that_fits(event: Event, width: int) -> None:
    line = event.describe(width)
    assert line is not None and "\n" not in line and len(line) <= width
    assert all("\n" not in d and len(d) <= width for d in event.details(width))


@pytest.mark.parametrize("event", SAMPLES, ids=[e.type for e in SAMPLES])
def test_the_server_and_the_log_say_the_same(event: Event) -> None:
    assert event_text(event, 160)[0] == describe_event(event)
    assert parse_event(event.model_dump_json()).describe() == event.describe()


def test_quiet_events_have_no_line() -> None:
    for event in (AgentToken(role="solver", text="17"), ModelCalled(call=CallRecord(role="solver"))):
        assert event.describe() is None and event_text(event) == [] and describe_event(event) is None


def test_text_helpers() -> None:
    assert clip("a  b\nc", 10) == "a b c" and clip("abcdef", 4) == "abc…" and clip(None, 3) == ""
    assert fit("prefix: ", "x" * 100, 30) == "prefix: " + "x" * 21 + "…"
    assert fit("a long prefix that leaves no room: ", "y" * 30, 20).endswith("y" * 19 + "…")
    assert tail("one two three", 6) == "…three"
    assert excerpt("short", 10) == "short"
    assert excerpt("a" * 30 + "b" * 60, 9) == "aaa\n[...]\nbbbbbb"
