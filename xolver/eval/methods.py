"""How each eval method solves one task: the team, one call, or a vote over sampled calls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xolver.eval.checking import answers_equivalent
from xolver.eval.datasets import Task
from xolver.eval.records import CandidateResult, RunConfig

if TYPE_CHECKING:
    from xolver.config import XolverConfig
    from xolver.memory.base import ExperienceStore
    from xolver.models.base import Model, ModelResponse

__all__ = ["Attempt", "MethodSolver", "baseline_prompt"]

_MATH_INSTRUCTION = "Solve the problem step by step. End with the final answer on its own line as \\boxed{{ANSWER}}."


BASELINE_SYSTEM = "You are a careful expert problem solver."


def baseline_prompt(task: Task) -> str:
    """The user message of the single-call and self-consistency baselines."""
    if task.kind == "code":
        return task.problem
    return f"{task.problem}\n\n{_MATH_INSTRUCTION}"


@dataclass
class Attempt:
    answer: str | None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    votes: int | None = None
    stop_reason: str | None = None
    checked: bool | None = None
    checked_how: str | None = None
    by_role: dict[str, int] = field(default_factory=dict)
    candidates: list[CandidateResult] = field(default_factory=list)

    def charge(self, response: ModelResponse) -> None:
        self.calls += 1
        self.prompt_tokens += response.usage.prompt_tokens
        self.completion_tokens += response.usage.completion_tokens
        self.cost += response.cost


def _final_answer(task: Task, text: str) -> str | None:
    from xolver.agents.parsing import extract_answer

    if task.kind == "code":
        return text if text.strip() else None
    answer, _source = extract_answer(text, task.answer_format if task.answer_format != "code" else "auto")
    return answer


async def _sample(model: Model, task: Task, *, temperature: float, max_tokens: int | None, seed: int) -> ModelResponse:
    from xolver.models.base import CallTags, Message, ModelRequest, ModelSettings
    from xolver.models.retry import RetryPolicy, with_retries

    request = ModelRequest(
        messages=[
            Message("system", BASELINE_SYSTEM),
            Message("user", baseline_prompt(task)),
        ],
        settings=ModelSettings(temperature=temperature, max_tokens=max_tokens, seed=seed),
        tags=CallTags(role="solver", purpose="baseline"),
    )
    return await with_retries(lambda: model.complete(request), RetryPolicy())


async def _vote(task: Task, answers: list[str | None]) -> tuple[str | None, int]:
    """The majority answer and its vote count; ties go to the earliest answer."""
    clusters: list[tuple[str, int]] = []
    for answer in answers:
        if not answer:
            continue
        for i, (representative, count) in enumerate(clusters):
            if task.kind == "code":
                same = " ".join(representative.split()) == " ".join(answer.split())
            elif task.kind == "expression":
                # An expression is its own answer: "24" and a right expression worth 24 are not one vote.
                from xolver.graph.aggregation import same_expression

                same = same_expression(representative, answer)
            else:
                same = await asyncio.to_thread(answers_equivalent, representative, answer, integer=task.integer_answer)
            if same:
                clusters[i] = (representative, count + 1)
                break
        else:
            clusters.append((answer, 1))
    if not clusters:
        return None, 0
    best = max(range(len(clusters)), key=lambda i: (clusters[i][1], -i))
    return clusters[best]


@dataclass
class MethodSolver:
    """What a run needs to solve one task with its method."""

    config: RunConfig
    model: Model
    xolver_config: XolverConfig | None
    memory: ExperienceStore | None
    _teams: dict[str, Any] = field(default_factory=dict)

    def team(self, answer_format: str) -> Any:
        from xolver.api import Xolver

        if answer_format not in self._teams:
            assert self.xolver_config is not None
            config = self.xolver_config.model_copy(update={"answer_format": answer_format})
            self._teams[answer_format] = Xolver(self.model, config=config, memory=self.memory)
        return self._teams[answer_format]

    async def attempt(self, task: Task, index: int) -> Attempt:
        method = self.config.method
        if method == "xolver":
            from xolver.eval.checking import public_test_snippets

            tests = public_test_snippets(task.tests) if task.tests is not None else None
            solution = await self.team(task.answer_format).asolve(task.problem, tests=tests or None)
            totals = solution.usage.totals
            return Attempt(
                checked=solution.checked,
                checked_how=solution.check or None,
                by_role={role: t.calls for role, t in solution.usage.by_role().items()},
                candidates=[
                    CandidateResult(
                        round=r.index,
                        agent=t.agent,
                        method=t.method,
                        temperature=t.temperature,
                        answer=t.answer,
                        error=t.error,
                        checks=[f"{c.kind}:{'agrees' if c.agrees else 'fails'}" for c in t.checks],
                    )
                    for r in solution.rounds
                    for t in r.trajectories
                ],
                answer=solution.answer or None,
                calls=totals.calls,
                prompt_tokens=totals.prompt_tokens,
                completion_tokens=totals.completion_tokens,
                cost=totals.cost,
                stop_reason=solution.stop_reason,
            )
        seed = self.config.seed + 1000 * index
        if method == "single":
            response = await _sample(
                self.model, task, temperature=self.config.temperature, max_tokens=self.config.max_tokens, seed=seed
            )
            attempt = Attempt(answer=_final_answer(task, response.text))
            attempt.charge(response)
            return attempt
        samples = self.config.samples or 1
        # Distinct seeds: a seeded local backend would otherwise return the same sample N times.
        responses = await asyncio.gather(
            *(
                _sample(
                    self.model,
                    task,
                    temperature=self.config.temperature,
                    max_tokens=self.config.max_tokens,
                    seed=seed + i,
                )
                for i in range(samples)
            )
        )
        attempt = Attempt(answer=None)
        for response in responses:
            attempt.charge(response)
        answers = [_final_answer(task, r.text) for r in responses]
        attempt.answer, attempt.votes = await _vote(task, answers)
        # Every sample is kept (graded like xolver's candidates), so a vote over the first k of them,
        # the same seeds as a k-sample run, can be read from one run.
        # A sample cut at the token cap keeps the answer its last number gives (the baseline's grading)
        # and says it was cut, so the team's rule (no answer) can be applied to it afterwards.
        attempt.candidates = [
            CandidateResult(
                round=0,
                agent=i,
                method="reasoning",
                temperature=self.config.temperature,
                answer=a,
                error="cut at the token cap" if r.truncated else None,
            )
            for i, (a, r) in enumerate(zip(answers, responses, strict=True))
        ]
        return attempt
