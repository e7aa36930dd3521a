"""Local servers, partial failure, thinking models and cut-off replies, through whole solves."""

from __future__ import annotations

from typing import Any

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import PLAN, by_role, program, solved, verdict
from xolver import Xolver
from xolver.models import allow_model_requests
from xolver.models.base import ModelRequest, ModelResponse, Usage
from xolver.models.testing import FunctionModel


def _respond(body: dict[str, Any]) -> tuple[int, str]:
    prompt = body["messages"][-1]["content"]
    if "expert roles" in prompt:
        return 200, PLAN
    if "Reply with the program only" in prompt:
        return 200, program("391")
    return 200, solved("391")


def test_a_one_slot_local_server_serves_the_whole_team_without_timeouts() -> None:
    # Each request takes 1 s and the server runs one at a time; the last of three parallel agents
    # would wait 2 s in its queue. The per-attempt timeout (1.6 s) must count only the request itself
    # (the 0.6 s margin keeps a loaded machine from timing a request out: it was 0.3 s, and flaked).
    with fake_openai_server(_respond, one_at_a_time=True, delay=1.0) as (base, requests), allow_model_requests():
        xo = Xolver("openai/tiny", api_base=base, agents=3, rounds=0, request_timeout=1.6, memory=None)
        solution = xo.solve("What is 17 * 23?")
    assert solution.answer == "391"
    assert solution.failures == []
    assert all(c.ok for c in solution.usage.calls)
    assert len(requests) == len(solution.usage.calls) == 4  # no retried request


def test_an_agent_whose_calls_keep_timing_out_does_not_take_the_answer_with_it() -> None:
    def respond(body: dict[str, Any]) -> tuple[int, str]:
        system = body["messages"][0]["content"]
        if "Python program" in system:
            import time

            time.sleep(1.5)  # the program seat's calls always overrun the timeout
        return _respond(body)

    with fake_openai_server(respond) as (base, _), allow_model_requests():
        xo = Xolver(
            "openai/tiny",
            api_base=base,
            agents=3,
            rounds=0,
            request_timeout=0.5,
            max_concurrency=3,
            methods=["reasoning", "program", "reasoning"],
            blind_check=False,
            memory=None,
        )
        solution = xo.solve("What is 17 * 23?")
    assert solution.answer == "391"
    assert any("agent 1 round 0" in f and "TransientModelError" in f for f in solution.failures)
    program_seat = solution.rounds[0].trajectories[1]
    assert program_seat.answer is None and (program_seat.error or "").startswith("model error")
    # The calls that succeeded are in the ledger with the one that failed.
    assert [c.ok for c in solution.usage.calls if c.role == "solver"].count(True) == 2
    assert [c.ok for c in solution.usage.calls if c.role == "solver"].count(False) == 1


THOUGHTS = " ".join(["hmm, 17 * 23 is 17 * 20 + 17 * 3 = 340 + 51, which is 391, or is it 381?"] * 40)


def test_a_model_that_thinks_600_tokens_before_answering() -> None:
    def solver(request: ModelRequest) -> str:
        return f"<think>{THOUGHTS}</think>\nThought: done.\nFinal answer: \\boxed{{391}}"

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1)))
    solution = Xolver(model, agents=2, rounds=0, methods=["reasoning"], blind_check=False, memory=None).solve(
        "What is 17 * 23?"
    )
    assert len(THOUGHTS.split()) >= 600
    assert solution.answer == "391"
    for t in solution.rounds[0].trajectories:
        # The thinking is not the answer text: never shown to the judge, shared or stored as the reply.
        assert "<think>" not in t.response and "381" not in t.response and "or is it" not in t.response
    assert solution.best is not None and "or is it" not in solution.best.response


def test_a_reply_cut_at_the_token_cap_is_not_an_answer() -> None:
    def solver(request: ModelRequest) -> Any:
        if request.tags.agent == 0:
            # A chain of thought cut mid-sentence: its last number (340) is not an answer.
            return ModelResponse(text="17 * 23 = 17 * 20 + 17 * 3 = 340", usage=Usage(10, 512), finish_reason="length")
        return solved("391")

    model = FunctionModel(by_role(planner=PLAN, solver=solver, judge=verdict(1)))
    solution = Xolver(model, agents=2, rounds=0, methods=["reasoning"], blind_check=False, memory=None).solve(
        "What is 17 * 23?"
    )
    cut = solution.rounds[0].trajectories[0]
    assert cut.answer is None and cut.error == "cut off at the token cap"
    assert solution.answer == "391"
    assert [t.answer for t in solution.tally] == ["391"]
    assert next(c for c in solution.usage.calls if c.agent == 0).finish_reason == "length"
