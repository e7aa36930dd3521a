"""Seed and dump the experience memory: JSONL import with field mapping, and JSONL export.

An import reads the file once, maps each line's fields onto an `ExperienceRecord`, embeds up to
`EMBED_WINDOW` records per call (outside any lock: embedding is the slow part, and one large call
pads less) and writes each batch of them with one store call, so a process killed mid-import leaves
whole batches or nothing of a batch. Malformed lines are
reported with their line numbers and skipped. Record ids derive from the content hash, so importing
the same file twice, or from two processes, stores each record once.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from xolver.errors import UserError
from xolver.memory.base import ExperienceStore
from xolver.memory.records import ExperienceRecord, RecordKind, content_hash

__all__ = [
    "EMBED_WINDOW",
    "RECORD_FIELDS",
    "ImportReport",
    "export_jsonl",
    "import_jsonl",
    "parse_field_map",
]

ProgressCallback = Callable[[int, int], None]

# Target names accepted in a field map; "problem", "strategy" and "purpose" are friendly names for
# `text`, the field every kind indexes.
RECORD_FIELDS = ("text", "solution", "answer", "code", "signature", "domain", "source")
_ALIASES = {"problem": "text", "question": "text", "strategy": "text", "purpose": "text"}
# Tried in order when no mapping is given for a target.
_DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "text": ("text", "problem", "question", "prompt", "input"),
    "solution": ("solution", "answer", "canonical_solution"),
    "answer": ("answer", "final_answer", "target"),
    "code": ("code",),
    "signature": ("signature", "entry_point"),
}
_GSM8K_ANSWER = re.compile(r"####\s*(.+?)\s*$")
_BOXED = "\\boxed{"
_MAX_REPORTED = 1000
# Texts per embedding call during an import (rounded up to whole write batches).
EMBED_WINDOW = 2048


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        lines: non-blank lines read.
        imported: records written.
        skipped_duplicates: well-formed lines whose record was already stored (or repeated).
        malformed: (line number, reason) of each skipped line, first 1000 only.
        malformed_count: how many lines were malformed in all.
        seconds: wall time.
    """

    lines: int = 0
    imported: int = 0
    skipped_duplicates: int = 0
    malformed: list[tuple[int, str]] = field(default_factory=list)
    malformed_count: int = 0
    seconds: float = 0.0

    @property
    def records_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds > 0 else 0.0


def parse_field_map(specs: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """Parse ``target=source`` pairs (``problem=question``) into {record field: JSON key}.

    Raises:
        UserError: a pair is not ``target=source`` or names an unknown target.
    """
    if specs is None:
        return {}
    pairs = list(specs.items()) if isinstance(specs, Mapping) else []
    if not isinstance(specs, Mapping):
        for spec in specs:
            target, sep, source = spec.partition("=")
            if not sep or not target.strip() or not source.strip():
                raise UserError(f"field mapping {spec!r} must look like target=source, e.g. problem=question")
            pairs.append((target.strip(), source.strip()))
    out: dict[str, str] = {}
    for target, source in pairs:
        name = _ALIASES.get(target, target)
        if name not in RECORD_FIELDS:
            known = ", ".join(sorted({*RECORD_FIELDS, *_ALIASES}))
            raise UserError(f"unknown record field {target!r} in field mapping; expected one of: {known}")
        out[name] = source
    return out


def _extract_answer(solution: str) -> str:
    """The final answer inside a worked solution: GSM8K's ``#### N`` or the last ``\\boxed{...}``."""
    lines = solution.strip().splitlines()
    if lines:
        m = _GSM8K_ANSWER.search(lines[-1])
        if m:
            return m.group(1).strip()
    start = solution.rfind(_BOXED)
    if start < 0:
        return ""
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(solution)):
        if solution[j] == "{":
            depth += 1
        elif solution[j] == "}":
            depth -= 1
            if depth == 0:
                return solution[i:j].strip()
    return ""


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return None


def _record_from_line(
    obj: Any,
    *,
    fields: dict[str, str],
    kind: RecordKind,
    domain: str,
    namespace: str,
    source: str,
) -> ExperienceRecord:
    """Map one JSON object onto a record; raise ValueError with a short reason when it cannot."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if not fields and "text" in obj and "kind" in obj and set(obj) <= set(ExperienceRecord.model_fields):
        # A line from `export_jsonl`: restore it as it was, in the namespace being imported into.
        try:
            record = ExperienceRecord.model_validate({**obj, "namespace": namespace})
        except ValidationError as e:
            raise ValueError(f"invalid record: {e.errors()[0]['msg']}") from e
        return record
    values: dict[str, str] = {}
    for target in ("text", "solution", "answer", "code", "signature", "domain", "source"):
        if target in fields:
            key = fields[target]
            if key not in obj:
                if target == "text":
                    raise ValueError(f"missing field {key!r}")
                continue
            text = _as_text(obj[key])
            if text is None:
                raise ValueError(f"field {key!r} is not a string or number")
            values[target] = text
        else:
            used = set(fields.values())
            for key in _DEFAULT_SOURCES.get(target, ()):
                if key in obj and key not in used and key not in values.values():
                    text = _as_text(obj[key])
                    if text is not None:
                        values[target] = text
                        used.add(key)
                        break
    text = values.get("text", "").strip()
    if not text:
        raise ValueError("empty problem text" if "text" in values else "no text field (map one with --field)")
    solution = values.get("solution", "")
    answer = values.get("answer", "") or _extract_answer(solution)
    code = values.get("code", "")
    # Content-derived ids make re-imports idempotent across runs and processes (the id is the
    # prefix of `ExperienceRecord.hash`, computed here from the same parts).
    return ExperienceRecord(
        id=content_hash(kind, namespace, text, solution, answer, code)[:32],
        kind=kind,
        namespace=namespace,
        domain=values.get("domain", domain) or domain,
        text=text,
        solution=solution,
        answer=answer,
        code=code,
        signature=values.get("signature", ""),
        source=values.get("source", source) or source,
        verified=True,
        score=1.0,
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def import_jsonl(
    store: ExperienceStore,
    path: str | os.PathLike[str],
    *,
    kind: RecordKind = "problem",
    domain: str = "general",
    namespace: str = "default",
    source: str | None = None,
    fields: Sequence[str] | Mapping[str, str] | None = None,
    batch_size: int = 256,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a JSONL file into a store, one record per line.

    Args:
        store: the target; records are embedded (up to `EMBED_WINDOW` per call, before the store's
            write lock is taken) and then written a batch at a time.
        path: the JSONL file.
        kind: kind of every record.
        domain: domain of every record (unless mapped from a field).
        namespace: namespace of every record.
        source: provenance of every record (default ``import:<file name>``); `forget` can drop it.
        fields: {record field: JSON key} or ``["problem=question", ...]``; unmapped fields are looked
            up under common names (problem/question, solution/answer, ...).
        batch_size: records per write; each batch is written atomically.
        limit: import at most this many lines (for samples).
        progress: called as ``progress(lines_done, lines_total)`` after each batch is written.

    Raises:
        UserError: the file is missing or unreadable, or the arguments are invalid.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"no such file: {str(file)!r}")
    if kind not in get_args(RecordKind):
        raise UserError(f"unknown record kind {kind!r}; expected one of {', '.join(get_args(RecordKind))}")
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, got {batch_size!r}")
    mapping = parse_field_map(fields)
    origin = source or f"import:{file.name}"
    started = time.perf_counter()
    report = ImportReport()
    try:
        total = sum(1 for _ in _lines(file))
    except OSError as e:
        raise UserError(f"cannot read {str(file)!r}: {e}") from e
    if limit is not None:
        total = min(total, limit)
    # Records are embedded a window at a time and written a batch at a time: the embedder sorts
    # the texts of one call by length and pads each forward pass to its longest text, so one call
    # over 2048 texts wastes far less on padding than eight calls over 256 (measured: all-MiniLM on
    # 1000 GSM8K questions took 30% longer in calls of 256 than in one call, 2x longer in calls of 64).
    window = batch_size * max(1, -(-EMBED_WINDOW // batch_size))
    pending: list[tuple[ExperienceRecord, int]] = []  # (record, lines read when it was read)

    def flush() -> None:
        if not pending:
            return
        records = [r for r, _ in pending]
        # Embedded before the store's write lock is taken: embedding is the slow part.
        vectors = store.embed([r.search_text() for r in records])
        for start in range(0, len(records), batch_size):
            batch = records[start : start + batch_size]
            written = len(store.add_embedded(batch, vectors[start : start + batch_size]))
            report.imported += written
            report.skipped_duplicates += len(batch) - written
            if progress is not None:
                progress(pending[start + len(batch) - 1][1], total)
        pending.clear()

    for number, line in _lines(file):
        if limit is not None and report.lines >= limit:
            break
        report.lines += 1
        try:
            obj = json.loads(line)
            record = _record_from_line(
                obj, fields=mapping, kind=kind, domain=domain, namespace=namespace, source=origin
            )
        except (json.JSONDecodeError, ValueError) as e:
            report.malformed_count += 1
            if len(report.malformed) < _MAX_REPORTED:
                reason = f"invalid JSON: {e.msg}" if isinstance(e, json.JSONDecodeError) else str(e)
                report.malformed.append((number, reason))
            continue
        pending.append((record, report.lines))
        if len(pending) >= window:
            flush()
    flush()
    if progress is not None:
        progress(report.lines, total)
    report.seconds = time.perf_counter() - started
    return report


def export_jsonl(
    store: ExperienceStore,
    path: str | os.PathLike[str],
    *,
    namespace: str | None = None,
    kind: RecordKind | None = None,
) -> int:
    """Write every record (of one namespace and kind, or all) to a JSONL file; return the count.

    Lines are full records, which `import_jsonl` restores without a field map.

    Raises:
        UserError: the file cannot be written.
    """
    records = store.iter_records(namespace=namespace, kind=kind)
    file = Path(path).expanduser()
    tmp = file.with_name(file.name + ".tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(record.model_dump_json() + "\n")
                count += 1
        # Renamed into place so an interrupted export never leaves a truncated file behind.
        os.replace(tmp, file)
    except OSError as e:
        raise UserError(f"cannot write {str(file)!r}: {e}") from e
    return count
