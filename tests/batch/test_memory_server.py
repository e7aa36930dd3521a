"""One memory on a real ``chroma run`` server: shared by stores, processes and batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests._support.chroma_server import ChromaServer
from tests.batch.conftest import REPO, problem_text, team_model, team_reply
from xolver import Xolver
from xolver.batch import Problem, run_batch
from xolver.batch.records import read_output
from xolver.cli import main
from xolver.errors import UserError
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.chroma._server import MemoryServerUnavailable
from xolver.memory.embedders import HashEmbedder
from xolver.memory.records import ExperienceRecord
from xolver.models.base import ModelRequest
from xolver.models.testing import FunctionModel

pytestmark = pytest.mark.slow  # each test starts a chroma server (a few seconds)


def test_stores_on_one_server_share_records_and_rules(chroma: ChromaServer, capsys: pytest.CaptureFixture[str]) -> None:
    a = ChromaExperienceStore(url=chroma.url, embedder=HashEmbedder())
    b = ChromaExperienceStore(url=chroma.url, embedder=HashEmbedder())
    try:
        b.search("warm up the side index", mode="bm25")  # b loads before a writes: it must notice
        first = a.add([ExperienceRecord(text="seven times eight is fifty six", answer="56", domain="math")])
        assert [h.record.answer for h in b.search("seven times eight", k=1, mode="bm25")] == ["56"]
        assert [h.record.answer for h in b.search("seven times eight", k=1)] == ["56"]  # hybrid
        # The same content from another client is the same record: nothing doubles.
        assert b.add([ExperienceRecord(text="seven times eight is fifty six", answer="56", domain="math")]) == []
        assert a.count() == b.count() == 1
        b.add([ExperienceRecord(text="a tenant's own problem", namespace="acme")])
        assert a.namespaces() == ["acme", "default"]
        assert [h.record.text for h in a.search("own problem seven", namespace="default", mode="bm25")] == [
            "seven times eight is fifty six"
        ]
        assert a.forget(ids=first) == 1 and b.count(namespace="default") == 0
    finally:
        a.close()
        b.close()
    with pytest.raises(UserError, match="built with embedder"):
        ChromaExperienceStore(url=chroma.url, embedder=HashEmbedder(64))
    assert main(["memory", "stats", "--memory-url", chroma.url, "--embedder", "hash", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["path"] == chroma.url and stats["by_namespace"] == {"acme": 1}


_WRITER = """
import sys
from tests.batch.conftest import problem_text, team_model
from xolver import Xolver
from xolver.batch import Problem

url, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
problems = [Problem(id=f"p{i}", text=problem_text(i)) for i in range(first, last)]
with Xolver(team_model(), memory_url=url, embedder="hash", memory_mode="learn", agents=2, rounds=0) as xo:
    items = xo.solve_many(problems, concurrency=3)
print(sum(bool(i.solution and i.solution.memory_written) for i in items))
"""


def test_two_batch_processes_writing_one_namespace_lose_and_duplicate_nothing(
    chroma: ChromaServer, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "XOLVER_HOME": str(tmp_path / "home")}
    # Two processes at once, over overlapping problems (p4..p7 are solved by both).
    argv = [sys.executable, "-c", _WRITER, chroma.url]
    writers = [
        subprocess.Popen([*argv, "0", "8"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
        subprocess.Popen([*argv, "4", "12"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
    ]
    outputs = [w.communicate(timeout=240) for w in writers]
    for w, (_out, err) in zip(writers, outputs, strict=True):
        assert w.returncode == 0, err.decode()[-2000:]
    # Each of the 12 problems was written by one process at least (the overlap by one or both).
    assert sum(int(out.decode().split()[-1]) for out, _ in outputs) >= 12
    store = ChromaExperienceStore(url=chroma.url, embedder=HashEmbedder())
    try:
        texts = [r.text for r in store.iter_records(namespace="default", kind="problem")]
    finally:
        store.close()
    assert sorted(texts) == sorted(problem_text(i) for i in range(12))  # none lost, none twice


async def test_the_server_stopping_mid_batch_is_a_clear_error_and_the_file_resumes(
    chroma: ChromaServer, tmp_path: Path
) -> None:
    stopped: list[float] = []

    def reply(request: ModelRequest) -> Any:
        if not stopped and problem_text(3) in request.messages[-1].content:
            chroma.stop()  # the memory server goes away in the middle of problem 3
            stopped.append(time.monotonic())
        return team_reply(request)

    problems = [Problem(id=f"p{i}", text=problem_text(i)) for i in range(6)]
    out = tmp_path / "out.jsonl"
    config: dict[str, Any] = {"memory_url": chroma.url, "embedder": "hash", "agents": 2, "rounds": 0}
    with Xolver(FunctionModel(reply), **config) as xo, pytest.raises(MemoryServerUnavailable) as caught:
        await run_batch(problems, xo, out=out, concurrency=1)
    assert time.monotonic() - stopped[0] < 30  # an error, not a hang
    assert chroma.url in str(caught.value) and "chroma run" in str(caught.value)
    finished = read_output(out)
    assert set(finished) == {"p0", "p1", "p2"}
    chroma.start()  # the same data folder and port
    with Xolver(team_model(), **config) as xo:
        items = await run_batch(problems, xo, out=out, resume=True, concurrency=2)
    assert [i.solution.answer if i.solution else i.error for i in items] == ["6", "12", "20", "30", "42", "56"]
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == [f"p{i}" for i in range(6)]  # each once


async def test_serve_replicas_share_learning_through_one_memory_url(chroma: ChromaServer) -> None:
    from xolver.config import XolverConfig
    from xolver.memory.stores import StoreSpec
    from xolver.server.cli import build_service_store
    from xolver.server.service import SolveService

    config = XolverConfig(memory_url=chroma.url, embedder="hash", agents=2, rounds=0)
    spec = build_service_store(config, store="chroma", memory_path=None, embedder="hash")
    assert spec == StoreSpec(backend="chroma", url=chroma.url, embedder="hash")
    replicas = [SolveService(model=team_model(), config=config, memory=spec) for _ in range(2)]
    try:
        learned = await replicas[0].xolver().asolve(problem_text(5))  # replica 0 learns...
        assert learned.memory_written
        other = await replicas[1].xolver().asolve(problem_text(6))  # ...and replica 1 retrieves it
        assert [e.text for e in other.exemplars] == [problem_text(5)]
    finally:
        for replica in replicas:
            replica.close()
