from __future__ import annotations

from xolver.memory.learning import parse_distillation, problem_record, should_write_back

REPLY = """Here is what I learned.

**Strategy 1:** When a rate problem gives speed and time, convert units first, then distance = speed * time.
STRATEGY: For telescoping sums, write each term as f(k) - f(k+1) and cancel the middle.

CODE: gcd of a list of integers
```python
from math import gcd

def gcd_list(xs):
    g = 0
    for x in xs:
        g = gcd(g, x)
    return g
```

CODE: this one is broken
```python
def broken(:
    pass
```
"""


def test_should_write_back() -> None:
    assert should_write_back(None, True)
    assert should_write_back(0.95, False, 0.9)
    assert not should_write_back(0.5, False, 0.9)
    assert not should_write_back(None, False)


def test_parse_distillation_takes_strategies_and_valid_code_only() -> None:
    records = parse_distillation(
        REPLY, namespace="n", domain="math", source="solve-1", problem="P", score=1.0, verified=True
    )
    kinds = [r.kind for r in records]
    assert kinds == ["strategy", "strategy", "code"]
    assert records[0].text.startswith("When a rate problem")
    code = records[2]
    assert code.signature == "gcd_list(xs)"
    assert code.text == "gcd of a list of integers"
    assert "def gcd_list" in code.code and code.solution == "P"
    assert all(r.namespace == "n" and r.domain == "math" and r.verified for r in records)


def test_parse_distillation_is_tolerant() -> None:
    assert parse_distillation("") == []
    assert parse_distillation("NONE") == []
    assert parse_distillation("STRATEGY: none") == []
    bullets = parse_distillation("Some thoughts:\n- check the parity of both sides first\n- x")
    assert [r.text for r in bullets] == ["check the parity of both sides first"]
    as_json = parse_distillation(
        'Sure! {"strategies": ["Use invariants when a process repeats"], '
        '"code": [{"purpose": "square", "code": "def sq(x):\\n    return x * x"}]}'
    )
    assert [r.kind for r in as_json] == ["strategy", "code"] and as_json[1].signature == "sq(x)"
    unfenced_garbage = parse_distillation("CODE: helper\n```\nthis is not python at all ((\n```")
    assert unfenced_garbage == []
    many = parse_distillation(
        "\n".join(f"STRATEGY: reusable idea number {i} for problems" for i in range(10)), max_strategies=3
    )
    assert len(many) == 3


def test_problem_record() -> None:
    r = problem_record(" Q ", " S ", " 4 ", namespace="t", domain="math", score=1.0, verified=True)
    assert (r.kind, r.text, r.solution, r.answer, r.namespace) == ("problem", "Q", "S", "4", "t")
