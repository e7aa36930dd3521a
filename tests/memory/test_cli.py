"""The ``xolver memory`` command group, run in-process through argparse (hash embedder: fast)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from xolver.memory.cli import add_memory_parser, run_memory_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xolver")
    add_memory_parser(parser.add_subparsers(dest="command"))
    return parser


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_memory_command(
        _parser().parse_args(list(argv)),
        Console(file=out, width=200, color_system=None),
        Console(file=err, width=200, color_system=None),
    )
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    lines = [
        json.dumps({"question": f"A train leaves at {v} km per hour for {t} hours", "answer": f"#### {v * t}"})
        for v, t in ((60, 2), (80, 3))
    ]
    lines += [json.dumps({"question": "How many ways to arrange 5 books on a shelf?", "answer": "#### 120"}), "{oops"]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_search_stats_export_forget(tmp_path: Path, corpus: Path) -> None:
    mem = str(tmp_path / "mem")
    common = ["--path", mem, "--embedder", "hash"]
    code, out, err = _run(
        "memory",
        "import",
        str(corpus),
        *common,
        "--kind",
        "problem",
        "--domain",
        "math",
        "--field",
        "problem=question",
        "--field",
        "solution=answer",
    )
    assert code == 0, err
    assert "imported 3 records from 4 lines" in out
    assert f"{corpus}:4: skipped: invalid JSON" in err

    code, out, _ = _run("memory", "search", "train km per hour", *common, "--k", "2", "--json")
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(hits) == 2 and all("train" in h["text"] for h in hits)

    code, out, _ = _run("memory", "search", "books shelf", *common, "--kind", "problem")
    assert code == 0 and "arrange 5 books" in out and "answer: 120" in out

    code, out, _ = _run("memory", "stats", *common, "--json")
    stats = json.loads(out)
    assert stats["total"] == 3 and stats["by_source"] == {"import:c.jsonl": 3}

    export = tmp_path / "out.jsonl"
    assert _run("memory", "export", str(export), *common)[0] == 0
    assert len(export.read_text().splitlines()) == 3

    code, _, err = _run("memory", "forget", *common, "--id", hits[0]["id"])
    assert code == 0 and "forgot 1 records" in err
    code, _, err = _run("memory", "forget", *common, "--source", "import:c.jsonl")
    assert code == 0 and "forgot 2 records" in err


def test_namespaces_are_isolated_through_the_cli(tmp_path: Path, corpus: Path) -> None:
    common = ["--path", str(tmp_path / "mem"), "--embedder", "hash"]
    for ns in ("A", "B"):
        assert _run("memory", "import", str(corpus), *common, "--namespace", ns, "--field", "problem=question")[0] == 0
    _, out, _ = _run("memory", "search", "train", *common, "--namespace", "A", "--json", "--k", "10")
    assert {json.loads(x)["namespace"] for x in out.splitlines()} == {"A"}
    _, out, _ = _run("memory", "stats", *common, "--namespace", "B", "--json")
    assert json.loads(out)["by_namespace"] == {"B": 3}
    code, _, err = _run("memory", "forget", *common, "--namespace", "A")
    assert code == 0 and "forgot 3 records" in err
    _, out, _ = _run("memory", "stats", *common, "--json")
    assert json.loads(out)["by_namespace"] == {"B": 3}


def test_user_errors_exit_1_with_one_line(tmp_path: Path, corpus: Path) -> None:
    common = ["--path", str(tmp_path / "mem"), "--embedder", "hash"]
    code, _, err = _run("memory", "import", str(tmp_path / "missing.jsonl"), *common)
    assert code == 1 and err.startswith("error: no such file") and err.count("\n") == 1
    code, _, err = _run("memory", "import", str(corpus), *common, "--field", "colour=red")
    assert code == 1 and "unknown record field" in err
    code, _, err = _run("memory", "forget", *common)
    assert code == 1 and "forget needs" in err
    _run("memory", "stats", *common)
    code, _, err = _run("memory", "stats", "--path", str(tmp_path / "mem"), "--embedder", "hash:64")
    assert code == 1 and "built with embedder" in err and "Traceback" not in err
    code, _, err = _run("memory", "search", "x", *common, "--k", "0")
    assert code == 1


def test_default_path_follows_xolver_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XOLVER_HOME", str(tmp_path / "home"))
    code, out, _ = _run("memory", "stats", "--embedder", "hash", "--json")
    assert code == 0 and json.loads(out)["path"] == str(tmp_path / "home" / "memory")


def test_history_shows_a_records_track_record_merges_and_retirement(tmp_path: Path) -> None:
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.embedders import HashEmbedder
    from xolver.memory.records import ExperienceRecord

    path = tmp_path / "mem"
    with ChromaExperienceStore(path, embedder=HashEmbedder()) as store:
        record = ExperienceRecord(kind="strategy", text="halve the first amount, then add both amounts together")
        store.add([record])
        store.add(
            [ExperienceRecord(kind="strategy", text="halve the first amount, then add both amounts", source="s2")]
        )
        for _ in range(4):
            store.record_use([record.id], 0.0)
    code, out, _ = _run("memory", "history", record.id, "--path", str(path), "--embedder", "hash")
    assert code == 0
    assert "retired" in out and "helped 0, hurt 4" in out and "merged:" in out and "from s2" in out
    code, _, err = _run("memory", "history", "nope", "--path", str(path), "--embedder", "hash")
    assert code == 1 and "no record" in err
