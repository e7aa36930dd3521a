"""Every Python block in docs/ runs as written, against a scripted model, with real model requests off.

The blocks of one page run in order in one session, as a reader pastes them: a later block may use
what an earlier one defined (``backbone from the example above``). Each block runs in a fresh
subprocess, after the page's earlier blocks, in an empty folder with its own ``XOLVER_HOME``.

Blocks that talk to a provider-backed xolver run against stand-ins on 127.0.0.1, never the internet:

- the backbone is `fake_openai_server` answering a team asked "What is 17 * 23?" (`respond_391`);
- a block that calls ``http://127.0.0.1:8000`` gets a real ``xolver serve`` child (no client key,
  ``--store memory``, ``--model openai/gpt-4o-mini`` on the backbone above, as embedding.md starts it;
  without ``--model`` it would serve the embedded local model, which never calls the backbone) on a
  free port, written into the block in place of 8000;
- a block that starts the ``xolver`` command (the MCP SDK's stdio client) finds, first on its
  ``PATH``, a script that runs ``python -m xolver`` from this checkout with the backbone above (the
  SDK passes the server only ``HOME``, ``PATH`` and a few more variables, so the script sets them,
  and adds ``--store memory``).

Only those children may send model requests, and their only model address is the fake backbone; the
block's own process keeps real requests off.

`NOT_RUN` names the blocks this test does not run, each with what it would need; a block that is
neither run nor listed fails the test, so a new example cannot slip in untested. `NEEDS_MODULES`
names the blocks that need optional packages (LangChain's agent): they run where those packages are
installed and are skipped, saying what to install, where they are not.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import respond_391

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
DOCS_SERVE_ADDRESS = "127.0.0.1:8000"
"""Where the docs' ``xolver serve`` examples listen; the test's server listens on a free port instead."""

NOT_RUN: dict[str, str] = {
    "scale.md: from xolver import Xolver": "a Ray cluster (ray://head:10001 is a placeholder address)",
    'tools.md: xo = Xolver("openai/gpt-4o-mini", lean_project="~/myproofs")': "a Lake project with Mathlib at "
    "~/myproofs and a model that can prove",
}

NEEDS_MODULES: dict[str, tuple[str, ...]] = {
    "embedding.md: from langchain.agents import create_agent": ("langchain", "langchain_openai"),
}
"""Blocks that run only where optional packages are installed (not xolver's dependencies); skipped
otherwise, and left out of the sessions of the page's later blocks. A session with such a block gets a
placeholder ``OPENAI_API_KEY``: building a LangChain agent checks that a key is set, and the block
never calls the model."""

PRINTS: dict[str, tuple[str, ...]] = {
    "eval.md: import asyncio / import json": ("[('0', '391', True), ('1', '400', True)]", "xolver"),
}
"""What a block must print (its comments say so), beyond exiting 0."""


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
    assert sorted(set(NEEDS_MODULES) - set(keys)) == [], "NEEDS_MODULES lists blocks that no longer exist"
    assert sorted(set(PRINTS) - set(keys)) == [], "PRINTS lists blocks that no longer exist"
    assert len(keys) == len(set(keys)), "two blocks share a key: give one a different first line"


def _missing_modules(block: Block) -> list[str]:
    """The optional packages `block` needs (`NEEDS_MODULES`) that are not installed here."""
    return [name for name in NEEDS_MODULES.get(block.key, ()) if importlib.util.find_spec(name) is None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _backbone_env(base: str, home: Path) -> dict[str, str]:
    """The environment of a stand-in xolver child: the fake backbone as the address of its models.

    ``XOLVER_API_BASE`` applies to provider models (``openai/...``) only: the child must be given one
    (``--model``), else it runs the embedded local model, in-process.
    """
    return {
        "XOLVER_API_BASE": base,
        "XOLVER_HOME": str(home),
        "XOLVER_MEMORY_STORE": "memory",
        "XOLVER_ALLOW_MODEL_REQUESTS": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONPATH": str(REPO),
    }


@contextmanager
def _xolver_serve(env: dict[str, str], log: Path) -> Iterator[str]:
    """A ``xolver serve`` child on a free port, its output in `log`; yields its ``host:port``.

    It serves ``openai/gpt-4o-mini`` (the model embedding.md starts it with) at ``XOLVER_API_BASE``.
    The output goes to a file, not a pipe: nobody reads a pipe while the block runs, and a full one
    would stall the child.
    """
    port = _free_port()
    argv = [sys.executable, "-m", "xolver", "serve", "--model", "openai/gpt-4o-mini"]
    argv += ["--port", str(port), "--store", "memory"]
    with log.open("w", encoding="utf-8") as out:
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        while True:  # wait until it listens (startup, not a timed assertion)
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert child.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "xolver serve did not start"
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        child.terminate()
        child.wait(timeout=60)


def _xolver_command(folder: Path, env: dict[str, str]) -> Path:
    """A ``xolver`` script in `folder` that runs this checkout's CLI with `env`; returns `folder`.

    It appends ``--store memory``: the docs run ``xolver mcp``, whose default Chroma store would load
    sentence-transformers in the child for a one-problem example.
    """
    folder.mkdir(parents=True, exist_ok=True)
    exports = "".join(f"export {key}={_sh_quote(value)}\n" for key, value in env.items())
    script = folder / "xolver"
    script.write_text(
        f'#!/bin/sh\n{exports}exec {_sh_quote(sys.executable)} -m xolver "$@" --store memory\n', encoding="utf-8"
    )
    script.chmod(0o755)
    return folder


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.page}:{b.line}" for b in BLOCKS])
def test_docs_block_runs(block: Block, tmp_path: Path) -> None:
    if block.key in NOT_RUN:
        pytest.skip(f"needs {NOT_RUN[block.key]}")
    missing = _missing_modules(block)
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (pip install {' '.join(m.replace('_', '-') for m in missing)})")
    before = [
        b
        for b in BLOCKS
        if b.page == block.page and b.line < block.line and b.key not in NOT_RUN and not _missing_modules(b)
    ]
    code = "\n\n".join(b.code for b in [*before, block])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XOLVER_", "OTEL_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        XOLVER_HOME=str(tmp_path / "home"),
        XOLVER_ALLOW_MODEL_REQUESTS="0",
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        HF_HUB_OFFLINE="1",
    )
    if any(b.key in NEEDS_MODULES for b in [*before, block]):  # the session builds a LangChain agent
        env["OPENAI_API_KEY"] = "sk-placeholder-never-sent"
    backbone_requests: list[dict[str, Any]] | None = None
    serve_log = tmp_path / "xolver-serve.log"
    with ExitStack() as stack:
        if DOCS_SERVE_ADDRESS in code or 'command="xolver"' in code:
            base, backbone_requests = stack.enter_context(fake_openai_server(respond_391))
            child_env = {**env, **_backbone_env(base, tmp_path / "server-home")}
            if DOCS_SERVE_ADDRESS in code:
                code = code.replace(DOCS_SERVE_ADDRESS, stack.enter_context(_xolver_serve(child_env, serve_log)))
            if 'command="xolver"' in code:
                bin_dir = _xolver_command(tmp_path / "bin", _backbone_env(base, tmp_path / "mcp-home"))
                env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
    served = f"\nxolver serve said:\n{serve_log.read_text(encoding='utf-8')[-3000:]}" if serve_log.exists() else ""
    assert result.returncode == 0, f"{block.page}:{block.line} failed:\n{result.stderr[-3000:]}{served}"
    for expected in PRINTS.get(block.key, ()):
        assert expected in result.stdout, f"{block.page}:{block.line} did not print {expected!r}:\n{result.stdout}"
    if backbone_requests is not None:  # the block's solve went through the stand-ins
        assert backbone_requests, f"{block.page}:{block.line} never reached the stand-in backbone{served}"
        assert "391" in result.stdout, result.stdout + served
