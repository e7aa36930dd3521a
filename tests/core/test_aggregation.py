"""The answer's choice cannot fall below a vote: properties of `xolver.graph.aggregation`, and the same
property through whole solves with a judge that says nothing useful."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._support.scripts import PLAN, by_role, solved, verdict
from xolver import Xolver
from xolver.graph.aggregation import agreement, answer_equivalence, tally
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel
from xolver.solution import Check, Trajectory

ANSWERS = st.sampled_from(["1", "2", "3", "4"])


def _candidate(i: int, answer: str, *, score: float | None = None, executed: bool = False) -> Trajectory:
    checks = [Check(kind="program", agrees=True, detail=f"printed {answer}")] if executed else []
    method = "program" if executed else "reasoning"
    return Trajectory(agent=i % 3, role="r", round=i // 3, answer=answer, score=score, checks=checks, method=method)


def _majority(answers: list[str]) -> str:
    """Plain majority vote; ties go to the answer that appeared first."""
    counts = Counter(answers)
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)


UNINFORMATIVE = st.sampled_from(["all-1", "all-0", "none-parse", "mixed-none-and-1"])


def _uninformative_score(kind: str, i: int) -> float | None:
    return {"all-1": 1.0, "all-0": 0.0, "none-parse": None, "mixed-none-and-1": None if i % 2 else 1.0}[kind]


@given(answers=st.lists(ANSWERS, min_size=1, max_size=9), judge=UNINFORMATIVE)
@settings(max_examples=300, deadline=None)
def test_with_an_uninformative_judge_and_no_executed_check_the_answer_is_the_majority_vote(
    answers: list[str], judge: str
) -> None:
    candidates = [_candidate(i, a, score=_uninformative_score(judge, i)) for i, a in enumerate(answers)]
    # "mixed" judges some candidates 1 and leaves others unjudged: every judged group scores the same.
    assert tally(candidates)[0].answer == _majority(answers)


@given(
    answers=st.lists(st.tuples(ANSWERS, st.booleans()), min_size=1, max_size=9),
    judge=UNINFORMATIVE,
)
@settings(max_examples=300, deadline=None)
def test_an_uninformative_judge_never_changes_the_choice(answers: list[tuple[str, bool]], judge: str) -> None:
    judged = [_candidate(i, a, score=_uninformative_score(judge, i), executed=e) for i, (a, e) in enumerate(answers)]
    bare = [_candidate(i, a, executed=e) for i, (a, e) in enumerate(answers)]
    assert tally(judged)[0].answer == tally(bare)[0].answer


@given(answers=st.lists(ANSWERS, min_size=2, max_size=9), favourite=ANSWERS)
@settings(max_examples=300, deadline=None)
def test_a_judge_moves_an_answer_by_at_most_half_a_vote(answers: list[str], favourite: str) -> None:
    """A judge that approves one answer and rejects the rest can only break near-ties."""
    scored = [_candidate(i, a, score=1.0 if a == favourite else 0.0) for i, a in enumerate(answers)]
    winner = tally(scored)[0].answer
    counts = Counter(answers)
    assert counts[winner] >= max(counts.values()) - 1


def test_executed_checks_weigh_most() -> None:
    # Two unchecked votes for 5 against one program that computed 7 and one agreeing reasoning agent.
    groups = tally([_candidate(0, "5"), _candidate(1, "5"), _candidate(2, "7", executed=True), _candidate(3, "7")])
    assert groups[0].answer == "7" and (groups[0].weight, groups[1].weight) == (3.0, 2.0)


def test_equivalent_answers_vote_together() -> None:
    groups = tally([_candidate(0, "1,000"), _candidate(1, "1000.0"), _candidate(2, "$1000$"), _candidate(3, "999")])
    assert (groups[0].votes, len(groups)) == (3, 2)


def test_expression_answers_vote_as_written_and_other_answers_by_value() -> None:
    game = answer_equivalence("Use the numbers 2 5 8 11, each exactly once, with + - * / to obtain 24.")
    groups = tally([_candidate(0, "24"), _candidate(1, "(11-5)*8/2"), _candidate(2, "(11 - 5) * 8 / 2")], same=game)
    # A bare value and an expression worth it are different answers; spacing is not.
    assert [(g.answer, g.votes) for g in groups] == [("(11-5)*8/2", 2), ("24", 1)]
    by_value = answer_equivalence("What is 48 / 2?")
    assert by_value("24", "48/2") and not game("24", "48/2")


def test_agreement_needs_two_kinds_of_source_one_executed_and_a_clear_lead() -> None:
    assert agreement(tally([_candidate(0, "5"), _candidate(1, "5", executed=True)]))
    # Two reasoning agents agreeing is not enough: nothing was executed.
    assert not agreement(tally([_candidate(0, "5"), _candidate(1, "5")]))
    # A program alone is one kind of source.
    assert not agreement(tally([_candidate(0, "5", executed=True)]))
    # A lead that is not twice the runner-up is not agreement.
    close = [_candidate(0, "5"), _candidate(1, "5", executed=True), _candidate(2, "6", executed=True)]
    assert not agreement(tally(close))
    # The checker counts as a source of its own.
    assert agreement(tally([_candidate(0, "5"), _candidate(1, "6")], checker_answer="5"))


def test_an_exact_evaluation_of_the_problem_settles_the_answer_against_any_vote() -> None:
    exact = Check(kind="substitution", agrees=True, detail="exact arithmetic: 17 * 23 = 391 exactly", settles=True)
    refuted = Check(
        kind="substitution", agrees=False, detail="exact arithmetic: 17 * 23 = 391 exactly, not 381", settles=True
    )
    many = [_candidate(i, "381").model_copy(update={"checks": [refuted]}) for i in range(4)]
    one = _candidate(4, "391").model_copy(update={"checks": [exact]})
    groups = tally([*many, one])
    assert groups[0].answer == "391" and groups[0].settled and not groups[1].settled
    # One agreeing candidate is enough to stop, whatever `min_votes` asks for.
    assert agreement(groups, min_votes=3)
    # Without it, a lone reasoning answer is no agreement, and refuted answers are not settled.
    assert not agreement(tally(many), min_votes=3)
    assert not agreement(tally([_candidate(0, "391")]), min_votes=3)


def test_agreement_can_ask_for_more_supporters_and_the_checker_is_one() -> None:
    two = [_candidate(0, "5"), _candidate(1, "5", executed=True), _candidate(2, "6")]
    assert agreement(tally(two), min_votes=2) and not agreement(tally(two), min_votes=3)
    assert agreement(tally(two, checker_answer="5"), min_votes=3)
    assert not agreement(tally(two, checker_answer="5"), min_votes=4)


# --------------------------------------------------------------------------- whole solves


def _wrong_answers(agents: int) -> dict[tuple[int, int], str]:
    """Per (round, agent) answers: all wrong, with a majority that shifts between rounds."""
    table = {(0, 0): "7", (0, 1): "8", (0, 2): "8", (1, 0): "7", (1, 1): "7", (1, 2): "9", (2, 0): "7"}
    return {k: v for k, v in table.items() if k[1] < agents}


@pytest.mark.parametrize(
    "judge_reply", ["Critique: perfect.\nScore: 1", "Critique: all wrong.\nScore: 0", "Looks right!"]
)
def test_a_stand_in_team_with_a_useless_judge_answers_the_majority_vote(judge_reply: str) -> None:
    table = _wrong_answers(3)

    def solver(request: ModelRequest) -> str:
        return solved(table.get((request.tags.round or 0, request.tags.agent or 0), "9"))

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=judge_reply))
    # The paper's refinement, where the judge's opinions are asked for the next round to read.
    team: dict[str, Any] = {
        "agents": 3,
        "rounds": 2,
        "methods": ["reasoning"],
        "later_rounds": "refine",
        "blind_check": False,
    }
    solution = Xolver(model, **team, memory=None).solve("What is 2 + 3?")
    every = [t.answer for r in solution.rounds for t in r.trajectories if t.answer is not None]
    assert len(every) == 9
    assert solution.answer == _majority(every)
    # The judge was asked (rounds remained), so the property is not vacuous.
    assert solution.usage.by_role()["judge"].calls >= 2


def test_a_judge_that_approves_a_wrong_minority_does_not_override_the_team() -> None:
    def solver(request: ModelRequest) -> str:
        return solved("5" if request.tags.agent != 2 else "6")

    def judge(request: ModelRequest) -> str:
        return verdict(1 if "final answer: 6" in request.messages[-1].content.lower() else 0)

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=judge))
    solution = Xolver(model, agents=3, rounds=1, methods=["reasoning"], blind_check=False, memory=None).solve("2 + 3?")
    assert solution.answer == "5"
    assert [t.answer for t in solution.tally] == ["5", "6"]


def test_symbolic_answers_vote_together_by_math_verify() -> None:
    from xolver.graph.aggregation import same_answer

    assert same_answer("\\frac{\\pi}{2}", "\\dfrac{\\pi}{2}")
    assert same_answer("0.5", "\\frac{1}{2}")
    assert not same_answer("3", "4")
    groups = tally([_candidate(0, "\\frac{\\sqrt{2}}{2}"), _candidate(1, "\\frac{\\sqrt2}{2}"), _candidate(2, "1")])
    assert groups[0].votes == 2


def _chain(i: int, answer: str, response: str) -> Trajectory:
    from xolver.agents.judge import slip_check

    bare = Trajectory(agent=i % 3, role="r", round=i // 3, answer=answer, response=response, method="reasoning")
    found = slip_check(bare)
    return bare.model_copy(update={"checks": [found] if found else []})


def test_a_chain_with_a_false_calculation_votes_for_less() -> None:
    from xolver.graph.aggregation import SLIP_WEIGHT

    slipped = [_chain(i, "18", f"16 - 3 - 4 = 9 eggs, 9 * 2 = 18 ... wait 9 + {i} = 100, so 18") for i in range(3)]
    clean = [_chain(3 + i, "20", "16 - 3 - 4 = 9 eggs, 9 * 2 = 18, plus 2 = 20") for i in range(2)]
    assert all(c.checks and c.checks[0].kind == "arithmetic" and not c.checks[0].agrees for c in slipped)
    assert "9 + 0 is 9, not 100" in slipped[0].checks[0].detail
    assert not any(c.checks for c in clean)
    groups = tally(slipped + clean)
    # Three slipped votes weigh 3 * SLIP_WEIGHT < 2 clean ones: the clean answer leads.
    assert 3 * SLIP_WEIGHT < 2 and groups[0].answer == "20" and groups[1].slipped == 3
    # Without the check the three would win the vote: the check, not the count, decided.
    assert tally([c.model_copy(update={"checks": []}) for c in slipped + clean])[0].answer == "18"


def test_a_program_or_a_chain_without_calculations_is_never_a_slip() -> None:
    from xolver.agents.judge import slip_check

    program = Trajectory(agent=0, role="r", round=0, answer="5", response="x = 2 + 2 = 5", method="program")
    words = Trajectory(agent=1, role="r", round=0, answer="5", response="Five, by counting.", method="reasoning")
    unanswered = Trajectory(agent=2, role="r", round=0, answer=None, response="2 + 2 = 5", method="reasoning")
    assert [slip_check(t) for t in (program, words, unanswered)] == [None, None, None]


def test_a_solve_records_the_slip_and_the_clean_chains_answer_wins() -> None:
    """Through the whole graph: two agents whose chains say 12 + 5 = 18 lose to one whose arithmetic
    holds (2 * SLIP_WEIGHT < 1)."""

    def solver(request: ModelRequest) -> str:
        if request.tags.agent == 2:
            return "Thought: 3 * 4 = 12 and 12 + 5 = 17.\nFinal answer: \\boxed{17}"
        return "Thought: 3 * 4 = 12 and 12 + 5 = 18.\nFinal answer: \\boxed{18}"

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1)))
    team: dict[str, Any] = {"agents": 3, "rounds": 1, "methods": ["reasoning"], "blind_check": False}
    solution = Xolver(model, **team, memory=None).solve("Tom has 3 bags of 4 pens and 5 more pens. How many pens?")
    assert solution.answer == "17"
    slipped = [t for t in solution.rounds[0].trajectories if t.answer == "18"]
    assert len(slipped) == 2
    for t in slipped:
        assert [(c.kind, c.agrees) for c in t.checks] == [("arithmetic", False)]
        assert "12 + 5 is 17, not 18" in t.checks[0].detail
