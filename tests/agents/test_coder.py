"""Code tasks: the test writer and the debugger, with their budget policy."""

from __future__ import annotations

import pytest

from xolver.agents.coder import debug, write_tests
from xolver.agents.runner import AgentRunner, Budget
from xolver.errors import BudgetExceeded
from xolver.models.testing import ScriptedModel
from xolver.tools.toolbox import ToolBox

WRONG = "def add(a, b):\n    return a - b"
FIXED = "```python\ndef add(a, b):\n    return a + b\n```"
TESTS = ["assert add(2, 2) == 4", "assert add(0, 1) == 1"]


async def test_the_test_writer_keeps_assert_lines_and_raises_on_a_spent_budget() -> None:
    reply = "```python\nassert add(1, 2) == 3\nprint('x')\nassert add(1, 2) == 3\n```"
    with ScriptedModel([reply]) as model:
        assert await write_tests(AgentRunner(model, Budget()), "Write add.", count=3) == ["assert add(1, 2) == 3"]
    with ScriptedModel([]) as model, pytest.raises(BudgetExceeded):
        await write_tests(AgentRunner(model, Budget(max_calls=0)), "Write add.", count=3)


async def test_the_debugger_repairs_a_failing_program(toolbox: ToolBox) -> None:
    with ScriptedModel([FIXED]) as model:
        runner = AgentRunner(model, Budget())
        debugged = await debug(runner, toolbox, "Write add.", WRONG, TESTS, attempts=2)
    assert debugged.calls == 1 and all(o.passed for o in debugged.outcomes)
    assert "return a + b" in debugged.code
    assert [c.purpose for c in runner.ledger.calls] == ["debug1"]


async def test_a_spent_budget_ends_the_repairs_and_the_program_stands(toolbox: ToolBox) -> None:
    with ScriptedModel([]) as model:
        debugged = await debug(AgentRunner(model, Budget(max_calls=0)), toolbox, "Write add.", WRONG, TESTS, attempts=2)
    assert (debugged.code, debugged.calls) == (WRONG, 0)
    assert [o.passed for o in debugged.outcomes] == [False, False]
