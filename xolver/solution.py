"""The result of a solve (`Solution`) and the records it is made of. All JSON-serialisable."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnswerTally",
    "CallRecord",
    "Check",
    "Exemplar",
    "PlannedRole",
    "RoundRecord",
    "Solution",
    "SolveMethod",
    "StopReason",
    "TestOutcome",
    "ToolCall",
    "Trajectory",
    "UsageLedger",
    "UsageTotals",
]

StopReason = Literal[
    "agreement",  # independent methods agreed on the answer and an executed check supports it
    "checked",  # code: a candidate passed every test
    "perfect_score",  # kept for results written by earlier versions; no longer produced
    "max_rounds",  # all configured rounds ran
    "budget_calls",
    "budget_tokens",
    "budget_seconds",
    "budget_cost",  # the dollar budget (max_cost) is spent
    "no_answer",  # no agent produced a usable response
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlannedRole(_Record):
    """An expert role the planner chose for one solver agent."""

    name: str
    reason: str = ""
    padded: bool = False


class Exemplar(_Record):
    """An experience record shown to the solvers."""

    id: str
    kind: str
    text: str
    solution: str = ""
    answer: str = ""
    code: str = ""
    score: float = 0.0
    verified: bool = False
    cautionary: bool = False
    when_to_use: str = ""
    when_not_to_use: str = ""


class ToolCall(_Record):
    """One tool call an agent made (e.g. a Python snippet) and what came back.

    `via` says how the model asked for it: ``fenced`` (a fenced block in its reply) or ``native``
    (a native tool call of a model that calls tools, with its JSON arguments as `input`).
    """

    tool: str
    input: str
    output: str = ""
    ok: bool = True
    error: str | None = None
    seconds: float = 0.0
    via: Literal["fenced", "native"] = "fenced"


SolveMethod = Literal["reasoning", "program"]
CheckKind = Literal["program", "checker", "substitution", "tests", "arithmetic"]


class Check(_Record):
    """An executed check of a candidate's answer: what ran, and whether it agreed.

    Kinds: ``program`` (the agent's own program computed the answer: program-of-thought),
    ``checker`` (the judge's blind program, written without seeing any candidate, printed the same
    answer), ``substitution`` (SymPy: the answer satisfies the problem's equation; or an exact
    evaluation: a Game-of-24 expression, the value of an arithmetic question), ``tests``
    (code: the given and synthesised tests ran), ``arithmetic`` (a calculation written in a chain of
    thought, re-evaluated exactly; recorded only when one is false: ``agrees`` is then False and
    `detail` says which, "12 + 5 is 17, not 18").
    """

    kind: CheckKind
    agrees: bool
    detail: str = ""
    settles: bool = False
    """The check decides the answer on its own (an exact evaluation of a problem that is nothing but an
    arithmetic expression, or of a Game-of-24 expression that uses each given number once): an agreeing
    candidate is proven, not just supported, so no vote is needed."""


class AnswerTally(_Record):
    """One distinct answer of a solve and the evidence for it (see `xolver.graph.aggregation`)."""

    answer: str
    votes: int = 0
    executed: int = 0
    judge: float | None = None
    weight: float = 0.0
    methods: list[str] = Field(default_factory=list)


class TestOutcome(_Record):
    """One test run against a candidate program."""

    test: str
    passed: bool
    error: str | None = None
    synthesized: bool = False


class Trajectory(_Record):
    """One agent's output in one round, with the judge's verdict once judged."""

    agent: int
    role: str
    round: int
    method: SolveMethod = "reasoning"
    temperature: float | None = None
    thought: str = ""
    response: str = ""
    answer: str | None = None
    score: float | None = None
    critique: str = ""
    parse_ok: bool = True
    error: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tests: list[TestOutcome] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)

    @property
    def judged(self) -> bool:
        """Whether a judge score was parsed for this entry (None means unjudged, not 0)."""
        return self.score is not None


class CallRecord(_Record):
    """One model call in the ledger."""

    role: str
    agent: int | None = None
    round: int | None = None
    purpose: str = "answer"
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    ok: bool = True
    error: str | None = None
    finish_reason: str | None = None  # "length": the reply hit the completion cap
    cached: bool = False  # answered from the model-call cache: no provider call, no cost


class UsageTotals(_Record):
    """Sums over model calls; `cache_hits` of them were answered from the model-call cache."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cache_hits: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageLedger(_Record):
    """Every model call of a solve, with totals overall and by role."""

    calls: list[CallRecord] = Field(default_factory=list)

    @property
    def totals(self) -> UsageTotals:
        return _sum(self.calls)

    def by_role(self) -> dict[str, UsageTotals]:
        groups: dict[str, list[CallRecord]] = defaultdict(list)
        for call in self.calls:
            groups[call.role].append(call)
        return {role: _sum(calls) for role, calls in sorted(groups.items())}

    def by_round(self) -> dict[int, UsageTotals]:
        groups: dict[int, list[CallRecord]] = defaultdict(list)
        for call in self.calls:
            if call.round is not None:
                groups[call.round].append(call)
        return {r: _sum(calls) for r, calls in sorted(groups.items())}


def _sum(calls: list[CallRecord]) -> UsageTotals:
    return UsageTotals(
        calls=len(calls),
        prompt_tokens=sum(c.prompt_tokens for c in calls),
        completion_tokens=sum(c.completion_tokens for c in calls),
        cost=sum(c.cost for c in calls),
        cache_hits=sum(c.cached for c in calls),
    )


class RoundRecord(_Record):
    """One round: every agent's trajectory and the shared memory after the update."""

    index: int
    trajectories: list[Trajectory] = Field(default_factory=list)
    shared_memory: list[Trajectory] = Field(default_factory=list)


class Solution(_Record):
    """What a solve returns.

    Attributes:
        answer: the final answer in the requested format ("" when none could be extracted).
        answer_source: how the verifier got it: "boxed", "final_line", "last_number", "code_block",
            "choice", "response", "model" (a verifier model call), or "none".
        best: the shared-memory entry the answer came from.
        rounds: every round with each agent's role, output, critique and score.
        stop_reason: why the loop ended.
        checked: whether an executed check agreed with the final answer: a program computed it
            (an agent's program-of-thought or the judge's blind program), a SymPy substitution
            held, or the tests passed. Never a token match. `check_kind` says which, `check` how.
        tally: every distinct answer with its votes, executed checks and judge score, best first
            (the aggregation rule is in `xolver.graph.aggregation`).
        failures: model or tool failures the solve survived (an agent whose calls failed).
        usage: every model call, keyed by role, agent and round.
    """

    problem: str
    answer: str
    answer_format: str = "auto"
    answer_source: str = "none"
    best: Trajectory | None = None
    roles: list[PlannedRole] = Field(default_factory=list)
    exemplars: list[Exemplar] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    stop_reason: StopReason = "max_rounds"
    checked: bool = False
    check: str = ""
    check_kind: CheckKind | None = None
    tally: list[AnswerTally] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    synthesized_tests: list[str] = Field(default_factory=list)
    memory_written: list[str] = Field(default_factory=list)
    model: str = ""
    thread_id: str | None = None
    wall_seconds: float = 0.0
    usage: UsageLedger = Field(default_factory=UsageLedger)

    def __str__(self) -> str:
        return self.answer
