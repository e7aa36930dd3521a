"""benchmarks/memory_ablation.py speed-report: the docs subsection rendered from the JSON files alone."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("memory_ablation")


RUN = {
    "commit": "abc1234",
    "xolver_memory_modified": False,
    "python": "3.11.7",
    "cores": 2,
    "nice": 10,
    "command": "python benchmarks/memory_ablation.py speed --rebuild",
}


def _open_run(scale: float) -> dict[str, Any]:
    phases = ["import_xolver_memory", "import_chromadb", "open", "first_bm25", "then_hybrid"]
    run: dict[str, Any] = {}
    for i, name in enumerate(phases):
        run[f"{name}_wall_s"] = run[f"{name}_cpu_s"] = round(0.1 * (i + 1) * scale, 3)
    run["open_and_first_bm25_after_import_wall_s"] = run["open_and_first_bm25_after_import_cpu_s"] = 0.7 * scale
    run["open_bm25_hybrid_after_import_wall_s"] = run["open_bm25_hybrid_after_import_cpu_s"] = 1.2 * scale
    run["open_bm25_hybrid_with_import_wall_s"] = run["open_bm25_hybrid_with_import_cpu_s"] = 1.4 * scale
    return run


def _open_time(scale: float) -> dict[str, Any]:
    runs = [_open_run(scale), _open_run(scale * 2), _open_run(scale * 3)]
    median = dict(runs[1])
    return {
        "run": RUN,
        "loadavg_start": [1.0, 2.0, 3.0],
        "loadavg_end": [1.5, 2.5, 3.5],
        "sizes": {
            "100000": {"records": 100000, "median": median, "runs": runs, "rebuild": _open_run(10)},
            "10000": {"records": 10000, "median": median, "runs": runs},
        },
    }


def _import_speed(ratio: float) -> dict[str, Any]:
    run = {
        "loadavg_before": [1.2, 1.0, 1.0],
        "raw_wall_s": 10.0,
        "raw_sentences_per_s": 100.0,
        "import_wall_s": 10.0 * ratio,
        "import_embedding_wall_s": 10.0,
        "import_outside_embedding_wall_s": 1.0,
        "import_records_per_s": 100.0 / ratio,
        "ratio_wall": ratio,
        "ratio_cpu": ratio,
    }
    summary = {
        "raw_sentences_per_s": 100.0,
        "import_records_per_s": 100.0 / ratio,
        "ratio_wall_total": ratio,
        "ratio_wall_median": ratio,
        "ratio_cpu_median": ratio,
        "target": "import within 1.5x of the raw embedding time",
        "met": ratio <= 1.5,
    }
    return {
        "what": "raw vs import",
        "embedder": "hash:384",
        "lines": 1000,
        "run": RUN,
        "loadavg_start": [1.0, 1.0, 1.0],
        "loadavg_end": [2.0, 1.0, 1.0],
        "summary": summary,
        "runs": [run],
    }


def test_tables_facts_targets_and_before(bench: ModuleType) -> None:
    text = bench.render_speed(_open_time(0.1), _import_speed(1.1))
    assert text.startswith("### Opening a store and importing: speed\n")
    assert "`python benchmarks/memory_ablation.py speed-report --write-docs`" in text
    # Sizes in ascending order; the rebuild column only where it was measured.
    ten, hundred = text.index("| 10,000 | 3 |"), text.index("| 100,000 | 3 |")
    assert ten < hundred
    assert text[ten:].split("\n", 1)[0].endswith("| not run |")
    # "everything" is the median over runs of the xolver import plus the with-import total: 0.2 x (0.1 + 1.4).
    assert "| 0.30 | 7.00 / 7.00 |" in text
    assert "in under 2 s: 0.30 s wall" in text and "**met**" in text
    assert "Commit abc1234, 2 cores, Python 3.11.7, nice 10" in text
    assert "1.00 / 2.00 / 3.00 at the start" in text
    assert "1.10x over all rounds: **met**" in text
    assert "355ca4b" in text and "f3081e0" in text and "0e2b78a" in text


def test_missed_targets_say_so(bench: ModuleType) -> None:
    text = bench.render_speed(_open_time(1.0), _import_speed(1.8))
    assert "in under 2 s: 3.00 s wall, everything counted but interpreter start-up: **missed**" in text
    assert "1.80x over all rounds: **missed**" in text


def test_missing_files_and_write_docs(bench: ModuleType, tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# B\n\n<!-- memory:start -->\n## Experience memory\n<!-- memory:end -->\n\n## Next\n")
    results = tmp_path / "results"
    results.mkdir()
    (results / "memory-import-speed.json").write_text(json.dumps(_import_speed(1.1)))
    args = argparse.Namespace(results_dir=results, write_docs=True, docs=docs)
    bench.step_speed_report(args)
    doc = docs.read_text()
    # First time: right after the memory section (which memory_bench.py rewrites), before the next section.
    assert doc.index("<!-- memory:end -->") < doc.index(bench.SPEED_START) < doc.index(bench.SPEED_END)
    assert doc.index(bench.SPEED_END) < doc.index("## Next")
    assert "Not measured (no memory-open-time.json)." in doc
    # Second time: replaced in place, not duplicated.
    (results / "memory-open-time.json").write_text(json.dumps(_open_time(0.1)))
    bench.step_speed_report(args)
    again = docs.read_text()
    assert again.count(bench.SPEED_START) == 1 and "Not measured" not in again
    assert again.endswith("\n\n## Next\n")
