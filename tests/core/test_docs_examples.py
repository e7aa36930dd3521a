"""Every Python block in docs/ runs as written, against a scripted model, with real model requests off.

The blocks of one page run in order in one session, as a reader pastes them: a later block may use
what an earlier one defined (``backbone from the example above``). Each block runs in a fresh
subprocess, after the page's earlier blocks, in an empty folder with its own ``XOLVER_HOME``.

`NOT_RUN` names the blocks this test does not run yet, each with what it would need; a block that is
neither run nor listed fails the test, so a new example cannot slip in untested.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

NOT_RUN: dict[str, str] = {
    "embedding.md: from langchain.agents import create_agent": "the langchain package (not a dependency)",
    "embedding.md: from openai import OpenAI": "a running `xolver serve` on 127.0.0.1:8000",
    "embedding.md: import asyncio / from mcp import Client, StdioServerParameters": "a provider key (openai)",
    "eval.md: from xolver.eval import check_math, check_code, check_answer, answers_equivalent": "a fragment "
    "(top-level await, `program` and `task` undefined)",
    "eval.md: import asyncio / from xolver.config import XolverConfig": "the local model and 20 GSM8K solves",
    "memory.md: from xolver.memory import retrieve_experience": "a fragment (`store`, `problem_text` undefined)",
    "scale.md: from xolver import Xolver": "a provider key (openai), a Chroma server and a Ray cluster",
    "serve.md: from openai import OpenAI": "a running `xolver serve` on 127.0.0.1:8000",
    'tools.md: xo = Xolver("openai/gpt-4o-mini", lean_project="~/myproofs")': "a provider key (openai) and a "
    "Lake project with Mathlib",
    "serve.md: stream = client.chat.completions.create(": "a running `xolver serve` on 127.0.0.1:8000",
    "serve.md: import asyncio / from mcp import Client, StdioServerParameters": "a provider key (openai)",
}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str

    @property
    def key(self) -> str:
        """The page and the block's first line (two for a block that opens with ``import asyncio``)."""
        lines = [line for line in self.code.splitlines() if line.strip()]
        head = " / ".join(lines[:2]) if lines[0] == "import asyncio" else lines[0]
        return f"{self.page}: {head}"


def _blocks() -> list[Block]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
            line = text[: match.start()].count("\n") + 1
            found.append(Block(page.name, line, match.group(1)))
    return found


BLOCKS = _blocks()


def test_every_block_is_run_or_listed_with_a_reason() -> None:
    keys = [b.key for b in BLOCKS]
    assert sorted(set(NOT_RUN) - set(keys)) == [], "NOT_RUN lists blocks that no longer exist"
    assert len(keys) == len(set(keys)), "two blocks share a key: give one a different first line"


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.page}:{b.line}" for b in BLOCKS])
def test_docs_block_runs(block: Block, tmp_path: Path) -> None:
    if block.key in NOT_RUN:
        pytest.skip(f"needs {NOT_RUN[block.key]}")
    before = [b for b in BLOCKS if b.page == block.page and b.line < block.line and b.key not in NOT_RUN]
    code = "\n\n".join(b.code for b in [*before, block])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XOLVER_", "OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        XOLVER_HOME=str(tmp_path / "home"),
        XOLVER_ALLOW_MODEL_REQUESTS="0",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        HF_HUB_OFFLINE="1",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{block.page}:{block.line} failed:\n{result.stderr[-3000:]}"
