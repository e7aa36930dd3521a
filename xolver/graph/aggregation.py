"""How a solve's final answer is chosen: a vote over every candidate, weighted by executed checks.

The rule (pure functions of the candidates; documented in docs/design.md "Choosing the answer"):

1. Every candidate answer of every round and agent is grouped with the answers equivalent to it
   (`normalize_answer`, numeric closeness, then math-verify for symbolic answers). A "use these
   numbers to obtain N" problem (Game of 24) is answered by an expression, so there answers are
   compared as written, not by value (`answer_equivalence`): a bare "24" is not a right expression.
2. Each candidate casts one vote for its group.
3. Executed evidence adds weight: +1 for each candidate whose answer an executed check produced or
   confirmed (its own program printed it, a SymPy substitution held), +1 once for the group the
   judge's blind checker program printed; -1 for each candidate whose answer a substitution refuted.
   A chain of thought that wrote a false calculation ("12 + 5 = 18": every ``numbers = number``
   statement it wrote is re-evaluated exactly, `xolver.tools.arithmetic.arithmetic_slips`) votes
   only `SLIP_WEIGHT` for its answer and is no supporter for an early stop.
4. The judge's opinion moves a group by at most half a vote: ``0.5 * (s - mean)``, where ``s`` is
   the mean score of the group's judged members and ``mean`` is over all judged groups. Unjudged
   groups get 0. So a judge that scores everything alike (all 1, all 0, or nothing parses) changes
   nothing, and with no executed evidence the answer is the plain majority vote: xolver cannot do
   worse than self-consistency over its own samples because of its judge.
5. Ties go to more votes, then more executed checks, then the earliest candidate.
6. One check outranks the vote: when the problem is nothing but an arithmetic expression ("What is
   17 * 23?"), its exact value is computed (`xolver.tools.arithmetic`), and a group whose answer
   equals it is *settled*: it is ranked first whatever the votes, and the loop stops on it. So is a
   Game-of-24 expression that uses each given number once and evaluates exactly to the target. A
   settled group exists only through that check's ``settles`` flag, so `XolverConfig.exact_checks`
   off (no such check) means no settling.

The loop stops early on *agreement*: the leading group is settled (rule 6), or, with no member
refuted by a check, it has sources of at least two kinds (reasoning,
program, checker, substitution), at least one of them executed, at least `min_votes` supporters (its
candidates whose written arithmetic holds, plus the checker; `XolverConfig.agreement_votes`, 3 by
default, at most the team plus its checker), and at least twice the weight of the runner-up. Two
supporters were too few for a small model: on the first 50 GSM8K problems Qwen2.5-Coder-0.5B's
program and one chain of thought agreed on a wrong answer in 16 of 28 early stops, where eight
samples voted it right in 3 of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from xolver.agents.parsing import answers_match, normalize_answer
from xolver.solution import AnswerTally, Trajectory
from xolver.tools.arithmetic import number_target

__all__ = [
    "Group",
    "agreement",
    "answer_equivalence",
    "corroborated",
    "same_answer",
    "same_expression",
    "slipped",
    "tally",
    "to_records",
]

JUDGE_WEIGHT = 0.5
SLIP_WEIGHT = 1 / 3
"""What the vote of a chain of thought with a false written calculation counts (rule 3). Measured:
of Qwen2.5-Coder-0.5B's self-consistency samples on the first 50 GSM8K test problems (T 0.7, 500
samples), 65 wrote a false calculation and 6 of those were right (9%), against 97 of the other 435
(22%): a slipped chain is right well under half as often, so two of them do not outvote one whose
arithmetic holds. Not 0: a slip in a side calculation can leave the answer right; dropping those
votes made the pool's vote lose 2 problems. Over that pool, this weight changed one vote, for the
worse (problem 38: 20 from four chains, three slipped, lost to -160 from three clean ones), so its
gain is in the team's early stops and rests on the rate above, not on a measured vote gain."""


def same_answer(a: str, b: str) -> bool:
    """Whether two answers vote together: equal normal forms or close numbers (`answers_match`), else,
    for answers that are not both plain numbers, math-verify's equivalence ("pi/2" and
    "\\frac{\\pi}{2}"), the checker the eval grades with."""
    if answers_match(a, b):
        return True
    if _plain_number(a) and _plain_number(b):
        return False
    return _math_equivalent(*sorted((a.strip(), b.strip())))


def answer_equivalence(problem: str) -> Callable[[str, str], bool]:
    """How two answers to `problem` vote together (rule 1).

    A "use these numbers to obtain N" problem (Game of 24) is answered by an expression, and its value
    is given: a right expression, one that misuses a number and a bare "24" are three different
    answers, compared as written (`same_expression`). Any other problem's answers are compared by
    value (`same_answer`).
    """
    return same_expression if number_target(problem) is not None else same_answer


def same_expression(a: str, b: str) -> bool:
    """Whether two answers are the same expression as written, up to spacing, ``$`` and the sign
    used for times and division: ``"(11 - 5) * 8 / 2"`` is ``"(11-5)×8÷2"``; ``"48/2"`` is not ``"24"``."""
    return _as_written(a) == _as_written(b)


def _as_written(text: str) -> str:
    text = re.sub(r"\\boxed\{(.*)\}", r"\1", text.strip())
    for sign, plain in (("×", "*"), ("\\times", "*"), ("\\cdot", "*"), ("÷", "/"), ("\\div", "/"), ("−", "-")):
        text = text.replace(sign, plain)
    return re.sub(r"[\s$]+", "", text)


def _plain_number(text: str) -> bool:
    return normalize_answer(text).lstrip("-").replace("/", "").replace(".", "").isdigit()


@lru_cache(maxsize=4096)
def _math_equivalent(a: str, b: str) -> bool:
    from xolver.eval.checking import answers_equivalent

    try:
        return answers_equivalent(a, b)
    except Exception:  # an unparseable answer is simply not equivalent
        return False


def slipped(candidate: Trajectory) -> bool:
    """Whether `candidate`'s chain of thought wrote a false calculation (an ``arithmetic`` check)."""
    return any(not k.agrees and k.kind == "arithmetic" for k in candidate.checks)


# Check kinds that count as an executed source for the candidate that carries them.
_EXECUTED = frozenset({"program", "substitution", "tests"})


@dataclass
class Group:
    """Candidates that share one answer, with the evidence for it."""

    answer: str
    members: list[Trajectory] = field(default_factory=list)
    executed: int = 0
    refuted: int = 0
    slipped: int = 0
    checker: bool = False
    judge_adjustment: float = 0.0

    @property
    def votes(self) -> int:
        return len(self.members)

    @property
    def judge_score(self) -> float | None:
        scores = [m.score for m in self.members if m.score is not None]
        return sum(scores) / len(scores) if scores else None

    @property
    def sources(self) -> set[str]:
        # A chain of thought with a false calculation is no independent source of its answer.
        kinds: set[str] = {m.method for m in self.members if not slipped(m)}
        kinds |= {c.kind for m in self.members for c in m.checks if c.agrees and c.kind == "substitution"}
        if self.checker:
            kinds.add("checker")
        return kinds

    @property
    def settled(self) -> bool:
        """An exact evaluation of the problem itself agrees with this answer (rule 6)."""
        return any(c.agrees and c.settles for m in self.members for c in m.checks)

    @property
    def weight(self) -> float:
        slips = (1 - SLIP_WEIGHT) * self.slipped
        return self.votes - slips + self.executed + int(self.checker) - self.refuted + self.judge_adjustment

    @property
    def first(self) -> tuple[int, int]:
        return min((m.round, m.agent) for m in self.members) if self.members else (1 << 30, 1 << 30)


def tally(
    candidates: Sequence[Trajectory],
    *,
    checker_answer: str | None = None,
    same: Callable[[str, str], bool] = same_answer,
) -> list[Group]:
    """Group `candidates` by answer and rank the groups by the rule in the module docstring.

    Candidates without an answer are ignored. `checker_answer` is what the judge's blind program
    printed (None when there was no such check or it failed); when no candidate has that answer, a
    group with no members records it, so the evidence is visible, but it can win only on weight.
    """
    groups: list[Group] = []
    for c in candidates:
        if c.answer is None or not c.answer.strip():
            continue
        group = next((g for g in groups if same(g.answer, c.answer)), None)
        if group is None:
            group = Group(answer=c.answer)
            groups.append(group)
        group.members.append(c)
        group.executed += sum(1 for k in c.checks if k.agrees and k.kind in _EXECUTED)
        group.refuted += sum(1 for k in c.checks if not k.agrees and k.kind == "substitution")
        group.slipped += slipped(c)
    if checker_answer is not None and checker_answer.strip():
        match = next((g for g in groups if same(g.answer, checker_answer)), None)
        if match is None:
            match = Group(answer=checker_answer)
            groups.append(match)
        match.checker = True
    judged = [g.judge_score for g in groups if g.judge_score is not None]
    if judged:
        mean = sum(judged) / len(judged)
        for g in groups:
            score = g.judge_score
            g.judge_adjustment = JUDGE_WEIGHT * (score - mean) if score is not None else 0.0
    groups.sort(key=lambda g: (not g.settled, -round(g.weight, 9), -g.votes, -(g.executed + g.checker), g.first))
    return groups


def corroborated(group: Group) -> bool:
    """Whether independent methods support `group`: sources of two kinds, one of them executed."""
    return len(group.sources) >= 2 and group.executed + int(group.checker) >= 1


def agreement(groups: Sequence[Group], *, min_votes: int = 2) -> bool:
    """Whether the evidence is strong enough to stop: see the module docstring."""
    if not groups or not groups[0].members:
        return False
    leader = groups[0]
    if leader.settled:
        return True
    if not corroborated(leader) or leader.refuted:
        return False  # an answer an exact check refuted is never agreement, however many share it
    if leader.votes - leader.slipped + int(leader.checker) < min_votes:
        return False  # a chain with a false calculation is no supporter
    runner_up = groups[1].weight if len(groups) > 1 else 0.0
    return leader.weight >= 2 * runner_up


def to_records(groups: Sequence[Group]) -> list[AnswerTally]:
    """The groups as `AnswerTally` records for the `Solution`."""
    return [
        AnswerTally(
            answer=g.answer,
            votes=g.votes,
            executed=g.executed + int(g.checker),
            judge=None if g.judge_score is None else round(g.judge_score, 4),
            weight=round(g.weight, 4),
            methods=sorted(g.sources),
        )
        for g in groups
    ]
