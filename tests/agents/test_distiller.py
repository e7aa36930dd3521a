"""The distiller role: its prompt (package data) and its call, next to each other."""

from __future__ import annotations

from xolver.agents.distiller import DistillInput, distill, distill_prompt
from xolver.agents.runner import AgentRunner, Budget
from xolver.models.testing import ScriptedModel

REPLY = """STRATEGY: For a product of two two-digit numbers, split one factor into tens and units.

CODE: multiply two integers
```python
def mul(a, b):
    return a * b
```"""


def test_distill_prompt_is_short_and_complete() -> None:
    prompt = distill_prompt("What is 2+2?", "x" * 20000, answer="4", code=["print(2 + 2)"], max_chars=2000)
    assert "What is 2+2?" in prompt and "FINAL ANSWER: 4" in prompt and "STRATEGY:" in prompt
    assert "up to 3 strategies and up to 2 code fragments" in prompt and "{{" not in prompt
    assert len(prompt) < 4000


async def test_one_learner_call_gives_records_filed_under_the_solve() -> None:
    task = DistillInput(
        problem="What is 17 * 23?",
        solution="17 * 23 = 391",
        answer="391",
        code=["print(17 * 23)"],
        namespace="acme",
        domain="math",
        score=1.0,
        verified=True,
    )
    with ScriptedModel({"learner": [REPLY]}) as model:
        runner = AgentRunner(model, Budget())
        records = await distill(runner, task)
    strategy, code = records
    assert (strategy.kind, code.kind, code.signature) == ("strategy", "code", "mul(a, b)")
    assert all(r.namespace == "acme" and r.domain == "math" and r.verified and r.score == 1.0 for r in records)
    assert code.solution == "What is 17 * 23?"  # a code record keeps the problem it came from
    assert "print(17 * 23)" in model.requests[0].messages[0].content
    assert [(c.role, c.purpose) for c in runner.ledger.calls] == [("learner", "distill")]


async def test_nothing_worth_keeping_is_no_records() -> None:
    with ScriptedModel(["NONE"]) as model:
        assert await distill(AgentRunner(model, Budget()), DistillInput("p", "s", "1")) == []
