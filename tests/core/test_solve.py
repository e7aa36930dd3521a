"""Full solves through the LangGraph state machine with scripted models."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests._support.scripts import PLAN, by_role, program, solved, verdict, wants_program
from xolver import Xolver
from xolver.errors import PermanentModelError, TransientModelError, UserError
from xolver.events import (
    AgentAnswered,
    AgentJudged,
    ModelCalled,
    RolesPlanned,
    RoundFinished,
    SharedMemoryUpdated,
    SolveFinished,
    SolveStarted,
    Verified,
    parse_event,
)
from xolver.graph.routing import update_shared
from xolver.memory import ExperienceRecord, ExperienceStore, InMemoryExperienceStore
from xolver.memory.testing import ScriptedStore
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel, ScriptedModel, ScriptExhausted, UnusedScript
from xolver.solution import Trajectory


def test_agreement_of_two_methods_with_an_executed_check_stops_after_one_round() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("391"), judge=verdict(1)))
    solution = Xolver(model, agents=3, rounds=2, memory=None).solve("How many pens in 17 boxes of 23?")
    assert solution.answer == "391"
    assert solution.stop_reason == "agreement"
    assert len(solution.rounds) == 1
    assert [r.name for r in solution.roles] == ["Calculator", "Checker", "Modeler"]
    # Agents differ in method: program (run in the sandbox), reasoning, reasoning at a higher temperature.
    trajectories = solution.rounds[0].trajectories
    assert [(t.method, t.temperature) for t in trajectories] == [
        ("program", 0.0),
        ("reasoning", 0.0),
        ("reasoning", 0.7),
    ]
    # Easy problems are cheap: the plan and one round of solvers, no judge call.
    assert {role: t.calls for role, t in solution.usage.by_role().items()} == {"planner": 1, "solver": 3}
    assert solution.checked and solution.check_kind == "program"
    assert "printed 391" in solution.check
    assert [(t.answer, t.votes) for t in solution.tally] == [("391", 3)]
    # The planner's reason and a method brief reach each solver.
    system = next(r for r in model.requests if r.tags.role == "solver").messages[0].content
    assert "Calculator" in system and "computes" in system and "Python program" in system
    # The Solution is JSON and back.
    assert type(solution).model_validate_json(solution.model_dump_json()) == solution


@pytest.mark.parametrize(("blind", "rounds"), [("391", 1), ("7", 2)])
def test_two_agreeing_agents_stop_only_when_the_checker_makes_three(blind: str, rounds: int) -> None:
    answers = {0: "391", 1: "391", 2: "390"}

    def solver(request: ModelRequest) -> str:
        return solved(answers[request.tags.agent or 0])

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1), blind=blind))
    solution = Xolver(model, agents=3, rounds=1, memory=None).solve("How many pens in 17 boxes of 23?")
    # With a checker that disagrees, round 1's two more votes for 391 make the agreement.
    assert solution.answer == "391" and len(solution.rounds) == rounds and solution.stop_reason == "agreement"


def test_a_problem_that_is_only_arithmetic_stops_on_the_seat_that_gets_its_exact_value() -> None:
    # A small model's chains of thought say 381; its program computes 391, the exact value of the
    # problem: the team stops after one round with 391, refuting the two wrong votes.
    model = FunctionModel(
        by_role(planner=PLAN, solver=lambda r: solved("391") if wants_program(r) else solved("381"), judge=verdict(1))
    )
    solution = Xolver(model, agents=3, rounds=2, memory=None).solve("What is 17 * 23?")
    assert (solution.answer, solution.stop_reason, len(solution.rounds)) == ("391", "agreement", 1)
    assert solution.checked and solution.check_kind == "substitution" and "17 * 23 = 391 exactly" in solution.check
    assert {role: t.calls for role, t in solution.usage.by_role().items()} == {"planner": 1, "solver": 3}
    refuted = [c for t in solution.rounds[0].trajectories for c in t.checks if not c.agrees]
    assert [c.detail for c in refuted] == ["exact arithmetic: 17 * 23 = 391 exactly, not 381"] * 2


def test_without_exact_checks_the_same_team_is_outvoted_and_runs_on() -> None:
    # The script of the test above with `exact_checks=False`: nothing settles or refutes, so the two
    # chains of thought (381) outvote the program (391, one vote and one executed check) every round.
    model = FunctionModel(
        by_role(planner=PLAN, solver=lambda r: solved("391") if wants_program(r) else solved("381"), judge=verdict(1))
    )
    solution = Xolver(model, agents=3, rounds=1, memory=None, exact_checks=False).solve("What is 17 * 23?")
    assert (solution.answer, solution.stop_reason, len(solution.rounds)) == ("381", "max_rounds", 2)
    assert not any(
        c.settles or c.kind == "substitution" for r in solution.rounds for t in r.trajectories for c in t.checks
    )
    assert not solution.checked


GAME_OF_24 = "Use the numbers 2 5 8 11, each exactly once, with + - * / and parentheses, to obtain 24."


@pytest.mark.parametrize("exact_checks", [True, False])
def test_a_game_of_24_expression_is_its_own_answer_not_its_value(exact_checks: bool) -> None:
    # The program seat prints the target's value, one chain of thought a right expression, the other
    # one that misuses the numbers (worth 24 too). By value all three would be one group read from
    # the program ("24", graded wrong); compared as written they are three answers.
    def solver(request: ModelRequest) -> str:
        if wants_program(request):
            return program("24")
        return solved("(11 - 5) * 8 / 2") if request.tags.agent == 1 else solved("(11 - 5) * 4")

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1)))
    solution = Xolver(model, agents=3, rounds=1, memory=None, exact_checks=exact_checks).solve(GAME_OF_24)
    assert {t.answer for t in solution.tally} == {"24", "(11 - 5) * 8 / 2", "(11 - 5) * 4"}
    if exact_checks:
        # The right expression is proven: it settles the answer and the loop stops on it.
        assert (solution.answer, solution.stop_reason, len(solution.rounds)) == ("(11 - 5) * 8 / 2", "agreement", 1)
        assert solution.checked and solution.check_kind == "substitution"
    else:
        # Without the exact check nothing is proven and the team runs every round; the later rounds'
        # chains (agents 0 and 2) vote the misused expression in.
        assert (solution.answer, solution.stop_reason) == ("(11 - 5) * 4", "max_rounds")
        assert not solution.checked


def test_an_arithmetic_problem_nobody_gets_right_runs_on() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("381"), judge=verdict(1)))
    solution = Xolver(model, agents=3, rounds=1, memory=None).solve("What is 17 * 23?")
    # Every vote is refuted: no agreement, the rounds run out, and nothing claims to be checked.
    assert solution.stop_reason == "max_rounds" and len(solution.rounds) == 2 and not solution.checked


@pytest.mark.parametrize(("resample_methods", "later"), [(None, ["reasoning"] * 3), ([], None), (["program"], None)])
def test_resampled_rounds_solve_by_the_resample_methods(resample_methods: list[str] | None, later: Any) -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=lambda r: solved(str(r.tags.agent)), judge=verdict(1)))
    options: dict[str, Any] = {} if resample_methods is None else {"resample_methods": resample_methods}
    solution = Xolver(model, agents=3, rounds=1, memory=None, **options).solve("How many pens in 17 boxes of 23?")
    assert [t.method for t in solution.rounds[0].trajectories] == ["program", "reasoning", "reasoning"]
    expected = later or (["program"] * 3 if resample_methods else ["program", "reasoning", "reasoning"])
    # Every later attempt is a fresh sample: a chain of thought at explore_temperature, a program at
    # the gentler explore_program_temperature.
    sampled = {"reasoning": 0.7, "program": 0.5}
    assert [(t.method, t.temperature) for t in solution.rounds[1].trajectories] == [(m, sampled[m]) for m in expected]


@pytest.mark.parametrize(
    ("options", "later"), [({}, ["program"] * 3), ({"resample_methods": ["reasoning"]}, ["reasoning"] * 3)]
)
def test_a_team_set_to_one_method_keeps_it_in_resampled_rounds(options: dict[str, Any], later: list[str]) -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=lambda r: solved(str(r.tags.agent)), judge=verdict(1)))
    solution = Xolver(model, agents=3, rounds=1, memory=None, methods=["program"], **options).solve(
        "How many pens in 17 boxes of 23?"
    )
    assert [t.method for t in solution.rounds[0].trajectories] == ["program"] * 3
    assert [t.method for t in solution.rounds[1].trajectories] == later


def test_rounds_run_to_the_limit_and_refine_with_the_shared_memory() -> None:
    def solver(request: ModelRequest) -> str:
        return solved("390" if request.tags.round == 0 else "391")

    def judge(request: ModelRequest) -> str:
        text = request.messages[-1].content
        return verdict(1 if "final answer: 391" in text.lower() else 0, "recomputed")

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=judge))
    solution = Xolver(model, agents=3, rounds=2, later_rounds="refine", early_stop=False, memory=None).solve(
        "How many pens in 17 boxes of 23?"
    )
    assert solution.stop_reason == "max_rounds"
    assert [r.index for r in solution.rounds] == [0, 1, 2]
    assert solution.answer == "391"
    refine = [r for r in model.requests if r.tags.role == "solver" and r.tags.round == 1]
    assert len(refine) == 3
    prompt = refine[0].messages[-1].content
    assert "Your previous attempt" in prompt and "Judge: recomputed" in prompt
    # One opinion per distinct answer of a round (all agents said 390 in round 0), none in the last
    # round, where the weights are not tied.
    opinions = [(c.round, c.purpose) for c in solution.usage.calls if c.role == "judge" and c.purpose == "answer"]
    assert opinions == [(0, "answer"), (1, "answer")]
    # Round 0 entries (390) were displaced by the round-1 entries the judge preferred.
    assert [e.round for e in solution.rounds[1].shared_memory] == [1, 1, 1]


def test_inclusive_round_counting_switch() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("1"), judge=verdict(0)))
    paper = Xolver(model, agents=1, rounds=2, early_stop=False, memory=None).solve("p")
    code = Xolver(model, agents=1, rounds=2, inclusive_rounds=False, early_stop=False, memory=None).solve("p")
    assert (len(paper.rounds), len(code.rounds)) == (3, 2)


def _t(agent: int, rnd: int, score: float | None, answer: str | None = "1") -> Trajectory:
    return Trajectory(agent=agent, role="r", round=rnd, score=score, answer=answer)


def test_update_shared_ranks_by_answer_group_then_own_score_deterministically() -> None:
    entries = [
        _t(0, 0, 1.0, "5"),
        _t(1, 0, 0.5, "6"),
        _t(0, 1, 1.0, "7"),
        _t(1, 1, 1.0, "5"),
        _t(2, 1, 0.2, "5"),
        _t(3, 1, None, "5"),
        _t(4, 1, 1.0, None),
    ]
    top = update_shared(entries, 3)
    # Answer "5" has the most votes (4); within it the higher own score, then the later round first.
    assert [(t.round, t.agent) for t in top] == [(1, 1), (0, 0), (1, 2)]
    assert update_shared(list(reversed(entries)), 3) == top
    assert update_shared([], 3) == []


def test_role_padding_when_the_planner_names_too_few() -> None:
    model = FunctionModel(
        by_role(planner="Roles:\n1. Number Theorist: primes\nSelected: 1", solver=solved("2"), judge=verdict(1))
    )
    solution = Xolver(model, agents=3, rounds=0, memory=None).solve("p")
    names = [r.name for r in solution.roles]
    assert names[0] == "Number Theorist" and len(set(names)) == 3
    assert [r.padded for r in solution.roles] == [False, True, True]


def test_malformed_output_from_every_role_is_repaired_or_contained() -> None:
    with ScriptedModel(
        {
            # planner: empty, then prose without roles -> generic roles
            "planner": ["", "We need some experts."],
            # solver 0: empty then repaired; solver 1: no answer twice -> unusable
            "solver": ["", solved("391"), "I am not sure.", "Still thinking.", solved("391")],
        }
    ) as model:
        solution = Xolver(model, agents=3, rounds=0, methods=["reasoning"], blind_check=False, memory=None).solve(
            "How many pens in 17 boxes of 23?"
        )
    assert all(r.padded for r in solution.roles)
    trajectories = solution.rounds[0].trajectories
    assert sum(t.answer is None for t in trajectories) == 1
    failed = next(t for t in trajectories if t.answer is None)
    assert failed.error == "no final answer found" and not failed.parse_ok
    assert solution.answer == "391"
    purposes = [c.purpose for c in solution.usage.calls]
    assert purposes.count("repair1") == 3
    # One group only and no round left: no judge call is worth making.
    assert "judge" not in solution.usage.by_role()


def test_an_unparseable_judge_reply_is_repaired_once() -> None:
    answers = {0: "391", 1: "392"}
    with ScriptedModel(
        {
            "planner": [PLAN],
            "solver": [solved(answers[0]), solved(answers[1]), solved(answers[0]), solved(answers[0])],
            # two opinions (two distinct answers): garbage then repaired, and a clean one
            "judge": ["looks fine?", verdict(1), verdict(0)],
        }
    ) as model:
        solution = Xolver(
            model, agents=2, rounds=1, methods=["reasoning"], later_rounds="refine", blind_check=False, memory=None
        ).solve("How many pens in 17 boxes of 23?")
    # Two answers in round 0 and a round to come: the judge gives its opinion of both.
    scores = sorted(t.score for t in solution.rounds[0].trajectories if t.score is not None)
    assert scores == [0.0, 1.0]
    assert [c.purpose for c in solution.usage.calls if c.role == "judge"].count("repair1") == 1


def test_a_program_seat_that_writes_no_program_is_repaired_once_then_contained() -> None:
    def solver(request: ModelRequest) -> str:
        return solved("12") if "Python program" not in request.messages[0].content else "I would rather not code."

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1)))
    solution = Xolver(model, agents=2, rounds=0, memory=None).solve("Compute six plus six.")
    program_seat = solution.rounds[0].trajectories[0]
    assert program_seat.method == "program" and program_seat.answer is None
    assert program_seat.error == "no program found"
    assert [c.purpose for c in solution.usage.calls if c.agent == 0] == ["answer", "repair1"]
    assert solution.answer == "12" and not solution.checked


def test_a_judge_reply_without_a_score_field_is_unjudged_not_a_verdict() -> None:
    # Prose that says "correct" once scored 1.0; now it is no score at all.
    answers = {0: "12", 1: "13"}

    def solver(request: ModelRequest) -> str:
        return solved(answers[request.tags.agent or 0])

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge="The answer looks correct to me."))
    solution = Xolver(
        model,
        agents=2,
        rounds=1,
        methods=["reasoning"],
        later_rounds="refine",
        blind_check=False,
        early_stop=False,
        memory=None,
    ).solve("Compute six plus six.")
    first = solution.rounds[0].trajectories
    assert [t.score for t in first] == [None, None]
    assert all(t.critique.startswith("Unjudged") for t in first)
    # Unjudged entries carry no weight: the tie is broken by the earliest candidate, as a vote would.
    assert solution.answer == "12"


def test_verifier_asks_the_model_only_when_nothing_parses() -> None:
    with ScriptedModel(
        {
            "planner": [PLAN],
            "solver": ["I refuse", "no", "maybe", "nope", "hmm", "nah"],
            "verifier": ["The answer is \\boxed{12}"],
        }
    ) as model:
        solution = Xolver(model, agents=3, rounds=0, methods=["reasoning"], blind_check=False, memory=None).solve(
            "Compute six plus six."
        )
    assert solution.best is None
    assert (solution.answer, solution.answer_source) == ("12", "model")


def test_scripted_model_fails_loudly() -> None:
    model = ScriptedModel(["only one"])
    with pytest.raises(ScriptExhausted):
        Xolver(model, agents=1, rounds=0, memory=None).solve("p")
    with pytest.raises(UnusedScript), ScriptedModel(["a", "b"]):
        pass


def test_events_stream_in_order_and_round_trip() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("4"), judge=verdict(1)))
    team: dict[str, Any] = {"agents": 2, "rounds": 1, "later_rounds": "refine", "early_stop": False}
    events = list(Xolver(model, **team, memory=None).stream("2+2?"))
    kinds = [type(e) for e in events]
    assert kinds[0] is SolveStarted and kinds[-1] is SolveFinished
    assert kinds.index(RolesPlanned) < kinds.index(AgentAnswered) < kinds.index(AgentJudged)
    assert kinds.index(AgentJudged) < kinds.index(SharedMemoryUpdated) < kinds.index(RoundFinished)
    assert kinds.index(RoundFinished) < kinds.index(Verified)
    assert sum(k is ModelCalled for k in kinds) == events[-1].solution.usage.totals.calls  # type: ignore[union-attr]
    for e in events:
        assert parse_event(e.model_dump(mode="json")) == e


async def test_agents_and_judges_run_concurrently() -> None:
    spans: dict[str, list[tuple[float, float]]] = {"solver": [], "judge": []}

    async def handler(request: ModelRequest) -> str:
        start = time.monotonic()
        await asyncio.sleep(0.3)
        if request.tags.role in spans and request.tags.purpose == "answer":
            spans[request.tags.role].append((start, time.monotonic()))
        # Three different answers, so the judge gives three opinions.
        reply = {"planner": PLAN, "solver": solved(str(request.tags.agent)), "judge": verdict(1)}[request.tags.role]
        return reply

    await Xolver(
        FunctionModel(handler),
        agents=3,
        rounds=1,
        methods=["reasoning"],
        later_rounds="refine",
        blind_check=False,
        memory=None,
    ).asolve("p")
    for role, intervals in spans.items():
        # Three solvers; the judge's opinions go to the two leading answers.
        want = 3 if role == "solver" else 2
        assert len(intervals) >= want, role
        first = intervals[:want]
        # All three calls were in flight at the same moment: the latest start precedes the earliest end.
        assert max(s for s, _ in first) < min(e for _, e in first), role


@pytest.mark.parametrize(
    ("limits", "reason"),
    [({"max_calls": 3}, "budget_calls"), ({"max_total_tokens": 60}, "budget_tokens")],
)
def test_budgets_stop_the_solve_cleanly(limits: dict[str, Any], reason: str) -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("7"), judge=verdict(0)))
    solution = Xolver(model, agents=3, rounds=2, memory=None, **limits).solve("p")
    assert solution.stop_reason == reason
    assert len(solution.rounds) == 1
    assert solution.answer in {"7", ""}
    if "max_calls" in limits:
        assert solution.usage.totals.calls == 3


def test_time_budget_cancels_the_call_in_flight() -> None:
    async def slow_judge(request: ModelRequest) -> str:
        if request.tags.role == "judge":
            await asyncio.sleep(30)
        return {"planner": PLAN, "solver": solved("7")}[request.tags.role]

    solution = Xolver(FunctionModel(slow_judge), agents=2, rounds=2, max_seconds=1.0, memory=None).solve("p")
    assert solution.stop_reason == "budget_seconds"
    # the solver answers survive although no judge finished
    assert solution.answer == "7"


def test_permanent_provider_failure_raises_a_clear_error() -> None:
    model = FunctionModel(lambda r: PermanentModelError("m: authentication failed: check the API key", model="m"))
    with pytest.raises(PermanentModelError, match="authentication failed"):
        Xolver(model, agents=2, rounds=0, memory=None).solve("p")


def test_empty_problem_is_a_user_error() -> None:
    with pytest.raises(UserError, match="empty"):
        Xolver(FunctionModel(lambda r: ""), memory=None).solve("   ")


def test_one_agents_provider_failure_is_recorded_and_the_others_answer_stands() -> None:
    def flaky(request: ModelRequest) -> str | TransientModelError:
        if request.tags.role == "solver" and request.tags.agent == 1:
            return TransientModelError("m: Timeout (the local server is busy)", model="m")
        return {"planner": PLAN, "solver": solved("5"), "judge": verdict(1)}[request.tags.role]

    solution = Xolver(FunctionModel(flaky), agents=3, rounds=0, memory=None).solve("p")
    assert solution.answer == "5"
    failed = solution.rounds[0].trajectories[1]
    assert failed.answer is None and failed.error is not None and failed.error.startswith("model error")
    assert any("agent 1 round 0: TransientModelError" in f for f in solution.failures)
    # The failed call is in the ledger, next to the ones that succeeded.
    assert [c.ok for c in solution.usage.calls if c.agent == 1] == [False]


def test_resume_from_a_sqlite_checkpoint(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"

    def crashing(request: ModelRequest) -> object:
        if request.tags.role == "solver" and request.tags.round == 1:
            return RuntimeError("the process was killed")
        return {"planner": PLAN, "solver": solved("5"), "judge": verdict(0)}[request.tags.role]

    first = FunctionModel(by_role(planner=PLAN, solver=crashing, judge=verdict(0)))
    with pytest.raises(RuntimeError):
        Xolver(first, agents=2, rounds=1, early_stop=False, checkpoint_path=db, memory=None).solve("p", thread_id="t1")
    assert db.exists()

    healthy = FunctionModel(by_role(planner=PLAN, solver=solved("5"), judge=verdict(1)))
    solution = Xolver(healthy, agents=2, rounds=1, early_stop=False, checkpoint_path=db, memory=None).resume("t1")
    assert solution.answer == "5" and solution.thread_id == "t1"
    roles = [r.tags.role for r in healthy.requests]
    # Neither the plan nor round 0 was redone: only round 1's solvers ran.
    assert roles == ["solver", "solver"]
    assert [r.index for r in solution.rounds] == [0, 1]
    # The ledger keeps the calls made before the interruption.
    assert solution.usage.by_role()["planner"].calls == 1
    # A finished thread resumes to the same solution without calls.
    again = Xolver(healthy, agents=2, rounds=1, checkpoint_path=db, memory=None).resume("t1")
    assert again.answer == "5" and len(healthy.requests) == 2
    with pytest.raises(UserError, match="no checkpointed solve"):
        Xolver(healthy, checkpoint_path=db, memory=None).resume("nope")


DISTILLED = (
    "STRATEGY: When items are arranged in equal rows, multiply the number of rows by the items per row.\n\n"
    "CODE: count items in a grid of rows\n```python\ndef grid_count(rows, per_row):\n    return rows * per_row\n\n"
    "assert grid_count(2, 3) == 6\n```\n\n"
    "CODE: a helper that parses but cannot run\n```python\nimport no_such_module_xyz\n\ndef f():\n    return 1\n\n"
    "assert f() == 1\n```"
)


def _learning_roundtrip(store: ExperienceStore) -> None:
    good = FunctionModel(by_role(planner=PLAN, solver=solved("391"), judge=verdict(1), learner=DISTILLED))
    xo = Xolver(good, agents=2, rounds=0, memory=store, distill_from="success", retrieval_min_similarity=-1.0)
    first = xo.solve("A farmer has 17 rows of 23 apple trees. How many trees?")
    # the problem, one strategy, and the one code fragment whose assertion passed in the sandbox
    assert len(first.memory_written) == 3
    second = xo.solve("A farmer has 19 rows of 21 pear trees. How many trees?")
    kinds = sorted(e.kind for e in second.exemplars)
    assert kinds == ["code", "problem", "strategy"]
    problem = next(e for e in second.exemplars if e.kind == "problem")
    # A verified worked solution is an ordinary few-shot example, answer included.
    assert problem.text.startswith("A farmer has 17 rows") and problem.answer == "391" and problem.verified
    prompt = next(r for r in reversed(good.requests) if r.tags.role == "solver").messages[-1].content
    assert "Worked examples" in prompt and "17 rows" in prompt and "Answer: 391" in prompt
    assert "Strategies that helped" in prompt and "def grid_count" in prompt

    # The program seat fails and no other method confirms the reasoning agent's answer: nothing is learned.
    bad = FunctionModel(
        by_role(planner=PLAN, solver=solved("1") + "\n```python\nraise SystemExit(1)\n```", judge=verdict(0))
    )
    third = Xolver(bad, agents=2, rounds=0, memory=store).solve("Another farm problem with trees")
    assert not third.checked
    assert third.memory_written == []  # an unchecked solve teaches nothing


def test_learning_writes_back_checked_experience_and_the_next_solve_retrieves_it() -> None:
    _learning_roundtrip(InMemoryExperienceStore())


def test_learning_with_the_persistent_chroma_store(tmp_path: Path) -> None:
    from xolver.memory import ChromaExperienceStore, HashEmbedder

    _learning_roundtrip(ChromaExperienceStore(tmp_path / "memory", embedder=HashEmbedder(256)))
    # what was learned survives the process: a new store on the same folder finds it
    reopened = ChromaExperienceStore(tmp_path / "memory", embedder=HashEmbedder(256))
    hits = reopened.search("rows of trees", k=5, kind="problem")
    assert hits and hits[0].record.text.startswith("A farmer has")


def test_a_verified_retrieved_problem_is_a_worked_example_and_an_unverified_one_is_not_shown() -> None:
    record = ExperienceRecord(
        text="A farmer plants 17 rows of 23 apple trees. How many trees?",
        solution="Multiply rows by trees per row: 17 * 23 = <<17*23=391>>391.\n#### 391",
        answer="391",
        verified=True,
    )
    unverified = ExperienceRecord(text="A farmer plants 5 rows of 5 trees?", solution="5 + 5 = 10", answer="10")
    model = FunctionModel(by_role(planner=PLAN, solver=solved("399"), judge=verdict(1)))
    with ScriptedStore({"problem": [[record, unverified]], "strategy": [[]], "code": [[]]}) as store:
        solution = Xolver(model, agents=1, rounds=0, memory=store, memory_mode="frozen").solve(
            "A farmer plants 19 rows of 21 pear trees. How many trees?"
        )
    assert [c.kind for c in store.searches] == ["problem", "strategy", "code"] and store.added == []
    (exemplar,) = solution.exemplars
    assert exemplar.answer == "391" and "####" not in exemplar.solution and "<<" not in exemplar.solution
    prompt = next(r for r in model.requests if r.tags.role == "solver").messages[-1].content
    assert "Multiply rows by trees per row: 17 * 23 = 391." in prompt and "Answer: 391" in prompt
    assert "####" not in prompt and "5 + 5" not in prompt


def test_frozen_and_off_memory_modes() -> None:
    store = InMemoryExperienceStore(
        [ExperienceRecord(text="apples and trees", solution="multiply", answer="1", verified=True)]
    )
    good = FunctionModel(by_role(planner=PLAN, solver=solved("2"), judge=verdict(1)))
    frozen = Xolver(good, agents=1, rounds=0, memory=store, memory_mode="frozen").solve("trees and apples?")
    assert len(frozen.exemplars) == 1 and frozen.memory_written == [] and store.count() == 1
    off = Xolver(good, agents=1, rounds=0, memory=store, memory_mode="off").solve("trees and apples?")
    assert off.exemplars == []


def test_token_streaming_emits_agent_tokens_that_add_up_to_the_reply() -> None:
    from xolver.events import AgentToken

    model = FunctionModel(by_role(planner=PLAN, solver=solved("4"), judge=verdict(1)))
    team: dict[str, Any] = {"agents": 1, "rounds": 0, "methods": ["reasoning"], "memory": None}
    events = list(Xolver(model, **team, stream_tokens=True).stream("2+2?"))
    tokens = [e for e in events if isinstance(e, AgentToken) and e.role == "solver"]
    assert "".join(t.text for t in tokens) == solved("4")
    assert {(t.agent, t.round) for t in tokens} == {(0, 0)}
    quiet = list(Xolver(model, **team).stream("2+2?"))
    assert not any(isinstance(e, AgentToken) for e in quiet)


RECALLED = "Related problem: A baker has 12 trays of 6 buns. How many buns?\nSolution: 12 * 6 = 72 buns."


def test_self_retrieval_when_the_store_is_empty() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("391"), judge=verdict(1), retriever=RECALLED))
    solution = Xolver(
        model, agents=2, rounds=0, memory=InMemoryExperienceStore(), self_retrieval="when_empty", distill=False
    ).solve("A farmer has 17 rows of 23 trees. How many trees?")
    assert [e.text for e in solution.exemplars] == ["A baker has 12 trays of 6 buns. How many buns?"]
    assert [c.purpose for c in solution.usage.calls if c.role == "retriever"] == ["recall"]
    prompt = next(r for r in model.requests if r.tags.role == "solver").messages[-1].content
    assert "12 trays of 6 buns" in prompt


def test_self_retrieval_per_agent_and_round_as_in_the_authors_code() -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("1"), judge=verdict(0), retriever=RECALLED))
    solution = Xolver(
        model, agents=2, rounds=1, early_stop=False, memory=None, self_retrieval="always", self_retrieval_per_agent=True
    ).solve("p")
    recalls = [(c.agent, c.round) for c in solution.usage.calls if c.role == "retriever"]
    assert sorted(recalls) == [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.parametrize("puzzle", [True, False])
def test_on_an_expression_task_every_seat_is_asked_for_the_expression_not_its_value(puzzle: bool) -> None:
    problem = (
        "Use the numbers 4 4 7 10, each exactly once, with + - * / and parentheses, to obtain 24."
        if puzzle
        else "What is 4 + 4 + 7 + 10?"
    )
    model = FunctionModel(by_role(planner=PLAN, solver=solved("25"), judge=verdict(0)))
    Xolver(model, agents=2, rounds=0, memory_mode="off").solve(problem)
    prompts = {r.tags.agent: r.messages[1].content for r in model.requests if r.tags.role == "solver"}
    program, reasoning = prompts[0], prompts[1]
    assert "Write a short Python program" in program and "Write a short Python program" not in reasoning
    assert ("let the program search" in program) is puzzle
    assert ("End with the expression itself" in reasoning) is puzzle
    assert ("End with the final answer" in reasoning) is not puzzle
