from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from xolver.errors import UserError
from xolver.memory import importer
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import HashEmbedder
from xolver.memory.importer import export_jsonl, import_jsonl, parse_field_map
from xolver.memory.in_memory import InMemoryExperienceStore
from xolver.memory.records import ExperienceRecord


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_parse_field_map() -> None:
    assert parse_field_map(["problem=question", "solution=answer"]) == {"text": "question", "solution": "answer"}
    assert parse_field_map({"purpose": "doc"}) == {"text": "doc"}
    with pytest.raises(UserError, match="target=source"):
        parse_field_map(["problem"])
    with pytest.raises(UserError, match="unknown record field 'colour'"):
        parse_field_map(["colour=red"])


def test_malformed_lines_are_reported_with_line_numbers_and_skipped(
    tmp_path: Path, hash_store: ChromaExperienceStore
) -> None:
    good = json.dumps({"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"})
    file = _write(
        tmp_path / "in.jsonl",
        [
            good,
            "{not json",
            "",
            "[1, 2]",
            json.dumps({"answer": "no question"}),
            json.dumps({"question": "   ", "answer": "x"}),
            json.dumps({"question": {"nested": 1}, "answer": "x"}),
            json.dumps({"question": "What is 7 * 6?", "answer": "#### 42"}),
        ],
    )
    seen: list[tuple[int, int]] = []
    report = import_jsonl(
        hash_store,
        file,
        fields=["problem=question", "solution=answer"],
        domain="math",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.imported == 2
    assert report.lines == 7  # the blank line is not counted
    assert [n for n, _ in report.malformed] == [2, 4, 5, 6, 7]
    assert "invalid JSON" in report.malformed[0][1]
    assert "missing field 'question'" in report.malformed[2][1]
    assert report.malformed_count == 5
    assert seen[-1] == (7, 7)
    answers = sorted(r.answer for r in hash_store.iter_records())
    assert answers == ["42", "5"]
    record = next(iter(hash_store.iter_records()))
    assert record.domain == "math" and record.source == "import:in.jsonl" and record.verified


def test_reimport_is_idempotent_and_limit_works(tmp_path: Path, data_dir: Path) -> None:
    store = InMemoryExperienceStore()
    file = data_dir / "gsm8k" / "train.jsonl"
    first = import_jsonl(store, file, fields=["problem=question", "solution=answer"], limit=50, batch_size=16)
    again = import_jsonl(store, file, fields=["problem=question", "solution=answer"], limit=50, batch_size=16)
    assert (first.imported, again.imported, again.skipped_duplicates) == (50, 0, 50)
    assert store.count() == 50


def test_math_corpus_mapping_extracts_boxed_answers(data_dir: Path) -> None:
    store = InMemoryExperienceStore()
    import_jsonl(
        store,
        data_dir / "math" / "math_test_corpus4500.jsonl",
        fields=["problem=problem", "solution=solution", "domain=type"],
        limit=20,
    )
    records = list(store.iter_records())
    assert len(records) == 20
    assert records[0].answer == "2" and records[0].domain == "Algebra"


def test_export_then_import_round_trips(tmp_path: Path, hash_store: ChromaExperienceStore) -> None:
    file = _write(
        tmp_path / "in.jsonl", [json.dumps({"question": f"q{i} about dice", "answer": f"#### {i}"}) for i in range(30)]
    )
    import_jsonl(hash_store, file, fields=["problem=question", "solution=answer"], namespace="t1", batch_size=7)
    out = tmp_path / "out.jsonl"
    assert export_jsonl(hash_store, out, namespace="t1") == 30
    other = ChromaExperienceStore(tmp_path / "other", embedder=HashEmbedder(), near_duplicate_threshold=None)
    report = import_jsonl(other, out, namespace="t2")
    assert report.imported == 30 and report.malformed == []
    assert sorted(r.answer for r in other.iter_records(namespace="t2")) == sorted(str(i) for i in range(30))
    other.close()


def test_missing_file_and_bad_arguments_are_user_errors(tmp_path: Path, hash_store: ChromaExperienceStore) -> None:
    with pytest.raises(UserError, match="no such file"):
        import_jsonl(hash_store, tmp_path / "nope.jsonl")
    file = _write(tmp_path / "x.jsonl", ["{}"])
    with pytest.raises(UserError, match="unknown record kind"):
        import_jsonl(hash_store, file, kind="theorem")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="batch size"):
        import_jsonl(hash_store, file, batch_size=0)


def test_records_are_embedded_a_window_at_a_time_and_written_a_batch_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No near-duplicate rule: the hash embedder maps some of these numbered texts onto one vector.
    hash_store = ChromaExperienceStore(tmp_path / "mem", embedder=HashEmbedder(), near_duplicate_threshold=None)
    lines = [json.dumps({"question": f"How many apples are in basket {i}?", "answer": str(i)}) for i in range(100)]
    lines.insert(30, "{broken")
    file = _write(tmp_path / "in.jsonl", lines)
    embedded: list[int] = []
    written: list[int] = []
    real_embed, real_add = hash_store.embed, hash_store.add_embedded

    def embed(texts: Sequence[str]) -> list[list[float]]:
        embedded.append(len(texts))
        return real_embed(texts)

    def add_embedded(records: Sequence[ExperienceRecord], vectors: Sequence[Sequence[float]]) -> list[str]:
        written.append(len(records))
        return real_add(records, vectors)

    monkeypatch.setattr(hash_store, "embed", embed)
    monkeypatch.setattr(hash_store, "add_embedded", add_embedded)
    monkeypatch.setattr(importer, "EMBED_WINDOW", 40)
    seen: list[tuple[int, int]] = []
    report = import_jsonl(hash_store, file, batch_size=16, progress=lambda done, total: seen.append((done, total)))
    assert report.imported == 100 and report.malformed_count == 1
    # Windows of 48 records (40 rounded up to whole batches of 16), each written in batches of 16.
    assert embedded == [48, 48, 4]
    assert written == [16, 16, 16, 16, 16, 16, 4]
    # Progress counts the lines read up to each written batch's last record (line 31 is the broken one).
    assert seen == [(16, 101), (33, 101), (49, 101), (65, 101), (81, 101), (97, 101), (101, 101), (101, 101)]
    assert hash_store.count() == 100
    hash_store.close()
