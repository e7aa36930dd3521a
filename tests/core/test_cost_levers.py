"""Cost levers: a model per role, fallback models, the dollar budget and the model-call cache."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import PLAN, by_role, program, respond_391, solved, verdict
from xolver import Xolver, XolverConfig
from xolver.agents.runner import Budget
from xolver.cli import main
from xolver.errors import BudgetExceeded, ConfigError, TransientModelError
from xolver.models import allow_model_requests, model_from_config
from xolver.models.base import (
    CallTags,
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    ModelSettings,
    supports_vision,
)
from xolver.models.cache import CachedModel, ModelCallCache, request_key
from xolver.models.composite import FallbackModel, ImageAttachingModel, RoleModels
from xolver.models.litellm import LiteLLMModel
from xolver.models.testing import FunctionModel, ScriptedModel


def _request(role: str = "solver", temperature: float | None = 0.0, text: str = "What is 2 + 2?") -> ModelRequest:
    return ModelRequest(
        messages=(Message("user", text),),
        settings=ModelSettings(temperature=temperature, timeout=5.0),
        tags=CallTags(role=role),  # type: ignore[arg-type]
    )


async def test_each_role_goes_to_its_own_model() -> None:
    judge = ScriptedModel(["Score: 1"], name="big")
    default = ScriptedModel(["4"], name="small")
    models = RoleModels(default, {"judge": judge})
    assert (await models.complete(_request("judge"))).model == "big"
    assert (await models.complete(_request("solver"))).model == "small"
    assert models.name == "small"
    judge.assert_used_up()
    default.assert_used_up()


def test_a_solve_records_which_model_answered_each_role() -> None:
    small = FunctionModel(by_role(planner=PLAN, solver=solved("7"), judge=verdict(1)), name="small")
    big = FunctionModel(by_role(judge=verdict(1), solver=solved("7")), name="big")
    solution = Xolver(RoleModels(small, {"judge": big}), agents=2, rounds=0, memory=None).solve("What is 3 + 4?")
    models = {(c.role, c.model) for c in solution.usage.calls}
    assert ("planner", "small") in models and ("solver", "small") in models
    assert all(model == "big" for role, model in models if role == "judge")


async def test_a_fallback_answers_when_the_model_fails() -> None:
    down = ScriptedModel([TransientModelError("rate limited", model="down")], name="down")
    up = ScriptedModel(["4"], name="up")
    model = FallbackModel([down, up])
    response = await model.complete(_request())
    assert (response.text, response.model, model.fallbacks_used) == ("4", "up", 1)
    with pytest.raises(TransientModelError):
        await FallbackModel([ScriptedModel([TransientModelError("x")])]).complete(_request())


async def test_the_cache_answers_a_repeated_greedy_request_and_never_a_sampled_one(tmp_path: Path) -> None:
    calls: list[ModelRequest] = []

    def answer(request: ModelRequest) -> ModelResponse:
        calls.append(request)
        return ModelResponse(text=f"reply {len(calls)}", cost=0.5, finish_reason="stop")

    cache = ModelCallCache(tmp_path / "cache.sqlite")
    model = CachedModel(FunctionModel(answer), cache)
    first = await model.complete(_request())
    again = await model.complete(replace(_request(role="judge"), settings=ModelSettings(temperature=0.0, timeout=99)))
    assert (first.text, first.cached, first.cost) == ("reply 1", False, 0.5)
    # The same messages and settings (the timeout and the caller's tags aside): no call, no cost.
    assert (again.text, again.cached, again.cost, again.finish_reason) == ("reply 1", True, 0.0, "stop")
    assert len(calls) == 1
    assert (await model.complete(_request(temperature=0.7))).text == "reply 2"
    assert (await model.complete(_request(temperature=0.7))).text == "reply 3"
    assert (await model.complete(_request(temperature=None))).text == "reply 4"
    assert (await model.complete(_request(text="another"))).text == "reply 5"
    # On disk: a new process (a new cache object) answers from it.
    reopened = CachedModel(FunctionModel(answer), ModelCallCache(tmp_path / "cache.sqlite"))
    assert (await reopened.complete(_request())).cached
    assert len(cache) == 2 and cache.hits == 1


def test_the_key_is_the_whole_request() -> None:
    base = _request()
    assert request_key("m", base) == request_key("m", replace(base, tags=CallTags(role="judge")))
    assert request_key("m", base) != request_key("other", base)
    assert request_key("m", base) != request_key("m", replace(base, settings=ModelSettings(temperature=0.0, seed=1)))
    assert request_key("m", base) != request_key("m", replace(base, messages=(Message("system", "What is 2 + 2?"),)))
    pictured = (Message("user", "What is 2 + 2?", images=(ImagePart("https://example.com/a.png"),)),)
    other = (Message("user", "What is 2 + 2?", images=(ImagePart("https://example.com/b.png"),)),)
    assert request_key("m", base) != request_key("m", replace(base, messages=pictured))
    assert request_key("m", replace(base, messages=pictured)) != request_key("m", replace(base, messages=other))


def test_capabilities_of_models_made_of_models() -> None:
    seeing, blind = FunctionModel(lambda r: "x", vision=True), FunctionModel(lambda r: "x")
    assert supports_vision(seeing) and not supports_vision(blind)
    assert supports_vision(RoleModels(seeing, {"judge": seeing}))
    assert not supports_vision(RoleModels(seeing, {"judge": blind}))  # every role reads the images
    assert not supports_vision(FallbackModel([seeing, blind]))  # so must a fallback
    assert supports_vision(CachedModel(seeing, ModelCallCache(Path(":memory:"))))


async def test_images_are_attached_to_the_first_user_message_of_every_call() -> None:
    image = ImagePart("https://example.com/a.png")
    model = FunctionModel(lambda r: "4", vision=True)
    attaching = ImageAttachingModel(model, [image])
    request = ModelRequest(messages=(Message("system", "s"), Message("user", "q"), Message("user", "more")))
    await attaching.complete(request)
    assert [m.images for m in model.requests[0].messages] == [(), (image,), ()]
    assert attaching.name == model.name and attaching.supports_vision


def test_cache_hits_are_counted_in_the_solution_usage(tmp_path: Path) -> None:
    model = FunctionModel(by_role(planner=PLAN, solver=solved("7"), judge=verdict(1)))
    cached = CachedModel(model, ModelCallCache(tmp_path / "c.sqlite"))
    first = Xolver(cached, agents=3, rounds=0, memory=None, temperature=0.0).solve("What is 3 + 4?")
    second = Xolver(cached, agents=3, rounds=0, memory=None, temperature=0.0).solve("What is 3 + 4?")
    assert first.usage.totals.cache_hits == 0
    greedy = [c for c in second.usage.calls if c.cached]
    # The planner and the greedy seats are answered from the cache; the exploring seat is sampled.
    assert second.usage.totals.cache_hits == len(greedy) >= 2
    assert any(not c.cached for c in second.usage.calls)
    assert second.answer == first.answer == "7"


def test_the_dollar_budget_stops_the_solve() -> None:
    budget = Budget(max_cost=0.02)
    budget.check()
    budget.cost = 0.02
    with pytest.raises(BudgetExceeded, match=r"dollar budget of \$0.02 spent") as spent:
        budget.check()
    assert spent.value.kind == "cost"

    replies = by_role(planner=PLAN, solver=solved("7"), judge=verdict(0))

    def priced(request: ModelRequest) -> ModelResponse:
        return ModelResponse(text=replies(request), cost=0.01)

    solution = Xolver(FunctionModel(priced), agents=3, rounds=2, memory=None, max_cost=0.025).solve("p")
    assert solution.stop_reason == "budget_cost"
    assert solution.usage.totals.calls == 3 and solution.usage.totals.cost == pytest.approx(0.03)


def test_models_table_and_fallbacks_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[xolver]\nmodel = "openai/small"\nfallback_models = ["openai/spare"]\n\n'
        '[models]\njudge = "openai/big"\nsolver = { model = "openai/local", api_base = "http://127.0.0.1:9/v1" }\n'
    )
    config = XolverConfig.load(path)
    model = model_from_config(config)
    assert isinstance(model, RoleModels)
    judge, solver = model.for_role("judge"), model.for_role("solver")
    assert isinstance(judge, FallbackModel) and [m.name for m in judge.models] == ["openai/big", "openai/spare"]
    assert isinstance(solver, FallbackModel) and solver.models[0].name == "openai/local"
    assert model.for_role("planner").name == "openai/small"
    with pytest.raises(ConfigError, match="unknown role"):
        XolverConfig.load(model="openai/x", models={"juge": "openai/y"})
    # Without cost levers, the plain backend.
    assert isinstance(model_from_config(XolverConfig(model="openai/small")), LiteLLMModel)


def test_role_models_and_the_dollar_budget_from_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def respond(body: dict[str, Any]) -> tuple[int, str]:
        return respond_391(body)

    with fake_openai_server(respond) as (base, requests), allow_model_requests():
        argv = ["solve", "What is 17 * 23?", "-m", "openai/tiny", "--api-base", base, "--json", "--memory-mode", "off"]
        argv += ["--solver-model", "openai/solver", "--solver-api-base", base]
        assert main(argv) == 0, capsys.readouterr().err
        solution = json.loads(capsys.readouterr().out)
        sent = {(r["messages"][0]["content"][:20], r["model"]) for r in requests}
        assert {model for _, model in sent} == {"tiny", "solver"}
        by_role_model = {(c["role"], c["model"]) for c in solution["usage"]["calls"]}
        assert by_role_model == {("planner", "openai/tiny"), ("solver", "openai/solver")}

        # A priced provider: every call costs 1 cent.
        original = LiteLLMModel._complete_direct

        async def priced(self: LiteLLMModel, request: ModelRequest, on_text: Any) -> ModelResponse:
            return replace(await original(self, request, on_text), cost=0.01)

        monkeypatch.setattr(LiteLLMModel, "_complete_direct", priced)
        argv = ["solve", "What is 17 * 23?", "-m", "openai/tiny", "--api-base", base, "--json", "--memory-mode", "off"]
        assert main([*argv, "--max-cost", "0.005", "--rounds", "2"]) == 0, capsys.readouterr().err
        solution = json.loads(capsys.readouterr().out)
        # The planner's cent spends the half-cent budget: no solver is sent.
        assert solution["stop_reason"] == "budget_cost"
        assert [(c["role"], c["cost"]) for c in solution["usage"]["calls"]] == [("planner", 0.01)]

    assert main(["solve", "x", "--judge-api-base", "http://127.0.0.1:9/v1"]) == 2


def test_judge_model_and_fallback_model_from_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def respond(body: dict[str, Any]) -> tuple[int, str]:
        if body["model"] == "down":
            return 404, "The model `down` does not exist"
        if body["model"] == "tiny" and "Write a short Python program" in body["messages"][-1]["content"]:
            return 200, program("392")  # the program seat disagrees with the reasoning seats: the judge is called
        return respond_391(body)

    common = ["solve", "What is 17 * 23?", "--json", "--memory-mode", "off", "--rounds", "0"]
    with fake_openai_server(respond) as (base, requests), allow_model_requests():
        # --judge-model: the judge's calls (its blind check, its critiques) go to its model on its
        # server; every other role's to --model.
        # (A word problem: "What is 17 * 23?" is settled by an exact arithmetic check, without a judge.)
        judged = [*common, "-m", "openai/tiny", "--api-base", base]
        judged[1] = "A farmer plants 17 rows of 23 trees. How many trees does he plant?"
        judged += ["--judge-model", "openai/judge", "--judge-api-base", base]
        assert main(judged) == 0, capsys.readouterr().err
        calls = json.loads(capsys.readouterr().out)["usage"]["calls"]
        assert {c["model"] for c in calls if c["role"] == "judge"} == {"openai/judge"}
        assert {c["model"] for c in calls if c["role"] != "judge"} == {"openai/tiny"}
        assert sum(r["model"] == "judge" for r in requests) == sum(c["role"] == "judge" for c in calls) > 0

        # --fallback-model: every call's model refuses (404, permanent: not retried), the fallback
        # answers. A fallback has no --api-base of its own: the provider's variable points it here.
        monkeypatch.setenv("OPENAI_BASE_URL", base)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-openai-key")
        requests.clear()
        down = [*common, "-m", "openai/down", "--api-base", base]
        assert main([*down, "--fallback-model", "openai/spare"]) == 0, capsys.readouterr().err
        solution = json.loads(capsys.readouterr().out)
        assert solution["answer"] == "391" and solution["failures"] == []
        assert {c["model"] for c in solution["usage"]["calls"]} == {"openai/spare"}
        sent = [r["model"] for r in requests]
        assert set(sent) == {"down", "spare"} and sent.count("down") == sent.count("spare")
        assert main(down) == 1  # without the fallback, the same solve fails
        assert "model not found" in capsys.readouterr().err


def test_max_cost_from_the_config_file_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LiteLLMModel._complete_direct

    async def priced(self: LiteLLMModel, request: ModelRequest, on_text: Any) -> ModelResponse:
        return replace(await original(self, request, on_text), cost=0.01)

    monkeypatch.setattr(LiteLLMModel, "_complete_direct", priced)
    with fake_openai_server(respond_391) as (base, _), allow_model_requests():
        path = tmp_path / "config.toml"
        path.write_text(f'[xolver]\nmodel = "openai/tiny"\napi_base = "{base}"\nmax_cost = 0.005\n')
        argv = ["solve", "What is 17 * 23?", "--config", str(path), "--json", "--memory-mode", "off"]
        assert main(argv) == 0, capsys.readouterr().err
        solution = json.loads(capsys.readouterr().out)
        # The planner's cent spends the file's half-cent budget: no solver is sent.
        assert solution["stop_reason"] == "budget_cost"
        assert [(c["role"], c["cost"]) for c in solution["usage"]["calls"]] == [("planner", 0.01)]
        assert main([*argv, "--max-cost", "10"]) == 0  # the flag wins over the file
        solution = json.loads(capsys.readouterr().out)
        assert solution["answer"] == "391" and solution["stop_reason"] != "budget_cost"


def test_cli_role_flags_name_roles_on_top_of_the_config_file(tmp_path: Path) -> None:
    from xolver.cli import build_parser, config_from_args

    path = tmp_path / "config.toml"
    path.write_text('[xolver]\nmodel = "openai/small"\n\n[models]\nverifier = "openai/v"\njudge = "openai/old"\n')
    argv = ["solve", "x", "--config", str(path), "--judge-model", "openai/big", "--fallback-model", "openai/spare"]
    args = build_parser().parse_args([*argv, "--max-cost", "0.5", "--cache"])
    config = config_from_args(args)
    assert config.models == {"verifier": "openai/v", "judge": "openai/big"}
    assert (config.fallback_models, config.max_cost, config.cache) == (["openai/spare"], 0.5, True)
