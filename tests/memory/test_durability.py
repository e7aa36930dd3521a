"""Durability with real processes: concurrent writers, and a writer killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import HashEmbedder

WORKER = Path(__file__).with_name("store_worker.py")


def _run_worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_two_processes_writing_one_store_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "mem")
    ChromaExperienceStore(path, embedder=HashEmbedder()).close()
    workers = [_run_worker("add", path, tag, "1500", "50") for tag in ("A", "B")]
    for w in workers:
        out, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
        assert "done" in out
    store = ChromaExperienceStore(path, embedder=HashEmbedder())
    assert store.count() == 3000
    # Every record is reachable through the vector index, not only stored in SQLite.
    for tag in ("A", "B"):
        hits = store.search(f"{tag} record about topic 3", k=3000, mode="dense")
        assert len(hits) == 3000
        assert sum(h.record.text.startswith(f"{tag} record") for h in hits) == 1500
    texts = {r.text for r in store.iter_records()}
    assert {f"{tag} record {i} about topic {i % 17}" for tag in "AB" for i in range(1500)} == texts
    store.close()


@pytest.mark.slow
def test_sigkill_mid_import_leaves_whole_records_only(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "in.jsonl"
    lines = (data_dir / "gsm8k" / "train.jsonl").read_text(encoding="utf-8").splitlines()[:2000]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = str(tmp_path / "mem")
    worker = _run_worker("import", path, str(source), "40")
    assert worker.stdout is not None
    batches = 0
    for line in worker.stdout:
        if line.startswith("progress"):
            batches += 1
            if batches == 6:
                # Killed while (or just before) it writes the next batch.
                os.kill(worker.pid, signal.SIGKILL)
                break
    worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL

    store = ChromaExperienceStore(path, embedder=HashEmbedder())
    count = store.count()
    assert count % 40 == 0 and 240 <= count < 2000
    by_question = {json.loads(x)["question"]: json.loads(x)["answer"] for x in lines}
    records = list(store.iter_records())
    assert len(records) == count
    for r in records:
        # Whole records only: text, solution and extracted answer all present and consistent.
        assert by_question[r.text] == r.solution
        assert r.answer and r.solution.rstrip().endswith(r.answer)
    hits = store.search("How many clips did Natalia sell?", k=count, mode="dense")
    assert len(hits) == count
    assert store.search("Natalia sold clips to her friends", k=1)[0].record.text.startswith("Natalia")
    # And it keeps working: the rest imports on top without duplicates.
    from xolver.memory.importer import import_jsonl

    report = import_jsonl(store, source, fields=["problem=question", "solution=answer"], batch_size=500)
    assert report.imported + report.skipped_duplicates == 2000
    assert store.count() == len(set(by_question))
    store.close()
