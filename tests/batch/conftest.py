"""Fixtures of the batch tests: a local Ray, a real Chroma server, a fixed-latency stand-in team."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.chroma_server import ChromaServer, chroma_server
from tests._support.processes import our_descendants
from tests._support.scripts import PLAN, by_role, solved, verdict
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel

REPO = Path(__file__).resolve().parents[2]

LATENCY = 0.02
"""Seconds every stand-in model call takes."""


def answer_of(request: ModelRequest) -> str:
    """The scripted team's answer to a problem "What is A * B?": the product, so each problem has its own."""
    import re

    # The last one: retrieved exemplars (other problems) come before the problem being solved.
    found = re.findall(r"What is (\d+) \* (\d+)\?", " ".join(m.content for m in request.messages))
    return str(int(found[-1][0]) * int(found[-1][1])) if found else "0"


def team_reply(request: ModelRequest) -> Any:
    """The stand-in team: every role agrees on the product (the program seats print it)."""
    time.sleep(LATENCY)
    answer = answer_of(request)
    return by_role(planner=PLAN, solver=solved(answer), judge=verdict(1), verifier=answer, blind=answer)(request)


def team_model() -> FunctionModel:
    return FunctionModel(team_reply, name="stand-in")


def problem_text(i: int) -> str:
    return f"What is {i + 2} * {i + 3}?"


def _reap(pids: list[int], grace: float = 15.0) -> None:
    """Wait for `pids` to exit after `ray.shutdown()`, then kill what is left: a later test that counts
    its own descendants (the sandbox's) must not find Ray's."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        for p in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p, os.WNOHANG)
        time.sleep(0.2)
    for p in pids:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(p, 9)
            os.waitpid(p, 0)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Ray with 2 CPUs for the Ray tests' module (started once: it takes seconds), shut down
    after it, with every process it started."""
    ray = pytest.importorskip("ray")
    home = tmp_path_factory.mktemp("ray-xolver-home")
    env = {
        # Workers solve with shipped stand-in models or call the fake server on 127.0.0.1 only.
        "XOLVER_ALLOW_MODEL_REQUESTS": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "XOLVER_MEMORY_STORE": "memory",
        "XOLVER_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "RAY_DEDUP_LOGS": "0",
        # The workers import the test helpers the shipped models were defined with.
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    before = set(our_descendants())
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    started = [p for p in our_descendants() if p not in before]
    try:
        yield ray
    finally:
        ray.shutdown()
        _reap(started)


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real ``chroma run`` on 127.0.0.1 and a free port, for one test."""
    with chroma_server(tmp_path / "chroma-data") as server:
        yield server
