"""The records of an eval run: its config (the results file's first line) and one result per problem."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from xolver._version import __version__

__all__ = ["METHODS", "CandidateResult", "Method", "ProblemResult", "RunConfig"]

Method = Literal["xolver", "single", "self-consistency", "prove"]
METHODS: tuple[Method, ...] = ("xolver", "single", "self-consistency", "prove")

# Config fields that may differ between the first part of a run and its resumption.
_RESUMABLE = frozenset({"limit", "concurrency", "xolver_version", "data_path"})


class RunConfig(BaseModel):
    """Everything needed to reproduce a run; written as the first line of its results file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    data_path: str
    dataset_sha256: str
    method: Method
    model: str
    seed: int = 0
    temperature: float = 0.0
    max_tokens: int | None = None
    limit: int | None = None
    shuffle: bool = False
    concurrency: int = 1
    agents: int | None = None
    rounds: int | None = None
    memory_mode: str | None = None
    # xolver: the team's exact checks (`XolverConfig.exact_checks`). True for the baselines, which have
    # none to switch off, and for files written before this field (those teams ran them).
    exact_checks: bool = True
    samples: int | None = None
    max_attempts: int | None = None  # prove: model proposals and repairs per theorem
    max_calls: int | None = None  # prove: the model-call budget per theorem
    automation: list[str] | None = None  # prove: tactics tried before model calls (None: the default)
    fields: dict[str, str] = Field(default_factory=dict)
    xolver_version: str = __version__

    def differences(self, other: RunConfig) -> list[str]:
        """Fields (other than limit/concurrency/version/path) whose values differ."""
        mine, theirs = self.model_dump(), other.model_dump()
        return [k for k in mine if k not in _RESUMABLE and mine[k] != theirs.get(k)]


class CandidateResult(BaseModel):
    """One agent's answer in one round of a xolver solve, graded like the final answer."""

    model_config = ConfigDict(extra="ignore")

    round: int
    agent: int
    method: str
    temperature: float | None = None
    answer: str | None = None
    correct: bool | None = None  # None: no answer, or a code task (graded only as a whole)
    error: str | None = None  # why there is no answer; for a baseline sample cut at the cap, that it was cut
    checks: list[str] = Field(default_factory=list)  # the candidate's checks, "kind:agrees" or "kind:fails"


class ProblemResult(BaseModel):
    """The outcome of one problem, as stored in the results file."""

    model_config = ConfigDict(extra="ignore")

    id: str
    index: int
    correct: bool
    score: float
    answer: str | None = None
    gold: str | None = None
    check: str = "none"
    check_detail: str = ""
    tests_passed: int = 0
    tests_total: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    wall_seconds: float = 0.0
    votes: int | None = None
    stop_reason: str | None = None
    verifier_checked: bool | None = None
    verifier_check: str | None = None
    calls_by_role: dict[str, int] = Field(default_factory=dict)
    error: str | None = None
    # prove: how many candidates Lean checked, by where they came from (automation, model, repair, ...).
    attempts: int | None = None
    attempts_by_origin: dict[str, int] = Field(default_factory=dict)
    # xolver: every agent's answer of every round, graded (math), so a run shows which seats were right.
    candidates: list[CandidateResult] = Field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
