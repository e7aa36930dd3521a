"""Does the experience memory lift accuracy? The measurements of issue 10, resumable.

Steps (each is a subcommand; ``all`` runs them in order; every step can be interrupted and rerun):

    contamination  no test problem may be in a seed corpus: exact (normalised text) and near
                   (word 8-gram Jaccard >= 0.5) matches of GSM8K test[:150] against GSM8K train and
                   of MATH-500[:30] against the 4,500-problem MATH corpus; written to
                   ``<results>/memory-contamination.json``. Cheap (pure Python).
    seed           ``xolver memory import`` of GSM8K train into ``<results>/memory-stores/gsm8k-seed``
                   and of the MATH corpus into ``.../math-seed`` (content ids: a rerun stores nothing
                   twice). A ``.complete`` marker is written when the store holds the whole file.
    seeded         GSM8K test[:50], three arms with ``xolver eval run --resume``:
                   ``off`` (memory off), ``empty`` (frozen, an empty store), ``seeded`` (frozen, the
                   GSM8K seed store, which is never written: frozen).
    stream         GSM8K test problems 51-150 (a slice file written once, its SHA-256 recorded), in
                   order (``--concurrency 1``): ``learn`` from an empty store, against ``off``.
    math           MATH-500[:30]: ``off`` against ``seeded`` (frozen, the MATH seed store).
    open-time      open a store of 10k and 100k records and answer a first BM25 and a first hybrid
                   query: with the persisted lexical index, and with it deleted (the old rebuild).
                   Uses the hash embedder (open time does not depend on the embedder; building
                   100k real embeddings would take an hour on 2 cores).
    report         accuracy per arm, by blocks of 25 for the stream, records written and retired,
                   the contamination result, SHA-256s of the data and results files: printed, and
                   with ``--write-docs`` placed between ``<!-- memory-ablation:start -->`` and
                   ``<!-- memory-ablation:end -->`` in docs/benchmarks.md.

    python benchmarks/memory_ablation.py all --model local//work/qwen/qwen2.5-coder-0.5b.gguf --write-docs

Every arm shares the model options given here (``--model``, ``--api-base``, ``--max-tokens``,
``--agents``, ``--rounds``); the team is the default grounded team otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
GSM8K_TEST = DATA / "gsm8k" / "test.jsonl"
GSM8K_TRAIN = DATA / "gsm8k" / "train.jsonl"
MATH500 = DATA / "math" / "math500_test.jsonl"
MATH_CORPUS = DATA / "math" / "math_test_corpus4500.jsonl"
SEEDED_LIMIT, STREAM_FIRST, STREAM_LAST, MATH_LIMIT, BLOCK = 50, 51, 150, 30, 25


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


# ---------------------------------------------------------------------------------- contamination

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _shingles(words: list[str], n: int = 8) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def contamination(tests: list[str], corpus: list[str], *, threshold: float = 0.5) -> dict[str, Any]:
    """Exact (normalised) and near (8-gram Jaccard >= threshold) matches of tests in corpus."""
    exact_index = {" ".join(_words(c)): i for i, c in enumerate(corpus)}
    corpus_shingles = [_shingles(_words(c)) for c in corpus]
    postings: dict[tuple[str, ...], list[int]] = {}
    for i, shingles in enumerate(corpus_shingles):
        for s in shingles:
            postings.setdefault(s, []).append(i)
    exact: list[int] = []
    near: list[dict[str, Any]] = []
    for t, text in enumerate(tests):
        words = _words(text)
        if " ".join(words) in exact_index:
            exact.append(t)
        mine = _shingles(words)
        candidates: dict[int, int] = {}
        for s in mine:
            for i in postings.get(s, ()):
                candidates[i] = candidates.get(i, 0) + 1
        for i, shared in candidates.items():
            jaccard = shared / len(mine | corpus_shingles[i])
            if jaccard >= threshold:
                near.append({"test": t, "corpus": i, "jaccard": round(jaccard, 3)})
    return {"tests": len(tests), "corpus": len(corpus), "exact": exact, "near": near, "threshold": threshold}


def step_contamination(args: argparse.Namespace) -> dict[str, Any]:
    gsm_test = [r["question"] for r in read_jsonl(GSM8K_TEST)][:STREAM_LAST]
    gsm_train = [r["question"] for r in read_jsonl(GSM8K_TRAIN)]
    math_test = [r["problem"] for r in read_jsonl(MATH500)][:MATH_LIMIT]
    math_corpus = [r["problem"] for r in read_jsonl(MATH_CORPUS)]
    report = {
        "gsm8k": contamination(gsm_test, gsm_train) | {"test_file": str(GSM8K_TEST), "seed_file": str(GSM8K_TRAIN)},
        "math": contamination(math_test, math_corpus) | {"test_file": str(MATH500), "seed_file": str(MATH_CORPUS)},
    }
    out = args.results_dir / "memory-contamination.json"
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    for name, r in report.items():
        print(f"{name}: {len(r['exact'])} exact and {len(r['near'])} near matches of {r['tests']} test problems")
    return report


# ---------------------------------------------------------------------------------- runs


def xolver(argv: Sequence[str]) -> int:
    from xolver.cli import main

    print("+ xolver " + " ".join(argv), file=sys.stderr)
    return main(list(argv))


def stores_dir(args: argparse.Namespace) -> Path:
    results: Path = args.results_dir
    return results / "memory-stores"


def step_seed(args: argparse.Namespace) -> None:
    for name, data, fields in (
        ("gsm8k-seed", GSM8K_TRAIN, ["problem=question", "solution=answer"]),
        ("math-seed", MATH_CORPUS, ["problem=problem", "solution=solution"]),
    ):
        store = stores_dir(args) / name
        marker = store / ".complete"
        if marker.is_file():
            continue
        argv = ["memory", "import", str(data), "--path", str(store), "--kind", "problem", "--domain", "math"]
        for f in fields:
            argv += ["--field", f]
        if xolver(argv) != 0:
            raise SystemExit(f"import of {data} failed")
        marker.write_text(sha256_of(data) + "\n", encoding="utf-8")


def _eval(args: argparse.Namespace, out: str, data: Path, limit: int, mode: str, store: Path | None) -> None:
    argv = ["eval", "run", "--dataset", "gsm8k" if "gsm8k" in str(data) else "math500", "--data", str(data)]
    argv += ["--limit", str(limit), "--seed", "0", "--out", str(args.results_dir / out), "--resume"]
    argv += ["--memory-mode", mode, "--concurrency", "1", "--model", args.model]
    if store is not None:
        argv += ["--memory-store", str(store)]
    for option in ("api_base", "max_tokens", "agents", "rounds"):
        value = getattr(args, option)
        if value is not None:
            argv += ["--" + option.replace("_", "-"), str(value)]
    if args.quiet:
        argv.append("--quiet")
    if xolver(argv) != 0:
        raise SystemExit(f"eval into {out} failed")


def step_seeded(args: argparse.Namespace) -> None:
    seed = stores_dir(args) / "gsm8k-seed"
    if not (seed / ".complete").is_file():
        raise SystemExit("run the seed step first")
    empty = stores_dir(args) / "gsm8k-empty"
    _eval(args, "memory-gsm8k-off.jsonl", GSM8K_TEST, SEEDED_LIMIT, "off", None)
    _eval(args, "memory-gsm8k-empty.jsonl", GSM8K_TEST, SEEDED_LIMIT, "frozen", empty)
    _eval(args, "memory-gsm8k-seeded.jsonl", GSM8K_TEST, SEEDED_LIMIT, "frozen", seed)


def stream_slice(args: argparse.Namespace) -> Path:
    """GSM8K test problems 51-150 as their own file (written once)."""
    results: Path = args.results_dir
    path = results / "memory-gsm8k-stream-51-150.jsonl"
    if not path.is_file():
        lines = GSM8K_TEST.read_text(encoding="utf-8").splitlines()[STREAM_FIRST - 1 : STREAM_LAST]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def step_stream(args: argparse.Namespace) -> None:
    data = stream_slice(args)
    n = STREAM_LAST - STREAM_FIRST + 1
    _eval(args, "memory-stream-off.jsonl", data, n, "off", None)
    _eval(args, "memory-stream-learn.jsonl", data, n, "learn", stores_dir(args) / "stream-learn")


def step_math(args: argparse.Namespace) -> None:
    seed = stores_dir(args) / "math-seed"
    if not (seed / ".complete").is_file():
        raise SystemExit("run the seed step first")
    _eval(args, "memory-math-off.jsonl", MATH500, MATH_LIMIT, "off", None)
    _eval(args, "memory-math-seeded.jsonl", MATH500, MATH_LIMIT, "frozen", seed)


# ---------------------------------------------------------------------------------- open time


def _build(path: Path, n: int, embedder: Any) -> None:
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.records import ExperienceRecord

    questions = [r["question"] for r in read_jsonl(GSM8K_TRAIN)]
    with ChromaExperienceStore(path, embedder=embedder, near_duplicate_threshold=None) as store:
        have = store.count()
        batch: list[ExperienceRecord] = []
        for i in range(have, n):
            # Distinct texts: the train questions, numbered once they repeat.
            text = questions[i % len(questions)] + (f" (variant {i // len(questions)})" if i >= len(questions) else "")
            batch.append(ExperienceRecord(id=f"r{i}", text=text, solution="-", answer="0", source="bench"))
            if len(batch) == 2000:
                store.add(batch)
                batch = []
        if batch:
            store.add(batch)


def _time_open(path: Path, embedder: Any) -> dict[str, float]:
    from xolver.memory.chroma import ChromaExperienceStore

    t0 = time.perf_counter()
    store = ChromaExperienceStore(path, embedder=embedder)
    opened = time.perf_counter()
    store.search("How many apples does she have left?", k=5, mode="bm25", kind="problem")
    lexical = time.perf_counter()
    store.search("How many pencils did he buy in all?", k=5, mode="hybrid", kind="problem")
    hybrid = time.perf_counter()
    store.close()
    return {
        "open_s": round(opened - t0, 3),
        "first_bm25_s": round(lexical - opened, 3),
        "open_and_first_bm25_s": round(lexical - t0, 3),
        "then_hybrid_s": round(hybrid - lexical, 3),
    }


def step_open_time(args: argparse.Namespace) -> dict[str, Any]:
    from xolver.memory.embedders import HashEmbedder

    embedder = HashEmbedder(384)
    rows: dict[str, Any] = {}
    for n in args.sizes:
        path = stores_dir(args) / f"open-{n}"
        _build(path, n, embedder)
        _time_open(path, embedder)  # writes the persisted index if the build did not
        persisted = _time_open(path, embedder)
        lexical = path / "xolver-lexical"
        if lexical.is_dir():
            shutil.rmtree(lexical)
        rebuild = _time_open(path, embedder)  # the old path: tokenise every document (then persist again)
        again = _time_open(path, embedder)
        rows[str(n)] = {"persisted": persisted, "rebuild": rebuild, "persisted_again": again}
        print(f"{n} records: persisted {persisted}  rebuild {rebuild}")
    out = args.results_dir / "memory-open-time.json"
    out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return rows


# ---------------------------------------------------------------------------------- report


def _accuracy(path: Path) -> tuple[int, int, list[bool]] | None:
    if not path.is_file():
        return None
    from xolver.eval.runner import read_results

    results = sorted(read_results(path).results, key=lambda r: r.index)
    flags = [r.correct for r in results]
    return sum(flags), len(flags), flags


def _store_counts(path: Path) -> tuple[int, int] | None:
    if not path.is_dir():
        return None
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.stores import embedder_from_spec

    with ChromaExperienceStore(path, embedder=embedder_from_spec(None)) as store:
        records = list(store.iter_records())
    return len(records), sum(r.retired for r in records)


def step_report(args: argparse.Namespace) -> str:
    r = args.results_dir
    lines = ["| experiment | arm | correct | of | file SHA-256 (first 16) |", "|---|---|---|---|---|"]
    for experiment, arms in (
        ("GSM8K test[:50]", ("off", "empty", "seeded")),
        ("MATH-500[:30]", ("off", "seeded")),
        ("GSM8K test 51-150, in order", ("off", "learn")),
    ):
        for arm in arms:
            prefix = {"GSM8K test[:50]": "memory-gsm8k", "MATH-500[:30]": "memory-math"}.get(
                experiment, "memory-stream"
            )
            path = r / f"{prefix}-{arm}.jsonl"
            got = _accuracy(path)
            if got is None:
                lines.append(f"| {experiment} | {arm} | not run | | |")
                continue
            right, total, flags = got
            blocks = ""
            if prefix == "memory-stream":
                blocks = (
                    " (blocks of 25: "
                    + ", ".join(str(sum(flags[i : i + BLOCK])) for i in range(0, len(flags), BLOCK))
                    + ")"
                )
            lines.append(f"| {experiment} | {arm} | {right}{blocks} | {total} | `{sha256_of(path)[:16]}` |")
    counts = _store_counts(stores_dir(args) / "stream-learn")
    if counts is not None:
        lines.append("")
        lines.append(f"Stream, learn arm: {counts[0]} records written, {counts[1]} retired.")
    cont = r / "memory-contamination.json"
    if cont.is_file():
        data = json.loads(cont.read_text(encoding="utf-8"))
        lines.append("")
        for name, c in data.items():
            lines.append(
                f"Contamination ({name}): {len(c['exact'])} exact, {len(c['near'])} near (8-gram Jaccard >= "
                f"{c['threshold']}) matches of {c['tests']} test problems in the {c['corpus']}-problem seed corpus."
            )
    lines.append("")
    lines.append(
        f"Data: `{GSM8K_TEST.name}` {sha256_of(GSM8K_TEST)[:16]}, `{GSM8K_TRAIN.name}` {sha256_of(GSM8K_TRAIN)[:16]}, "
        f"`{MATH500.name}` {sha256_of(MATH500)[:16]}, `{MATH_CORPUS.name}` {sha256_of(MATH_CORPUS)[:16]}."
    )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write_docs:
        start, end = "<!-- memory-ablation:start -->", "<!-- memory-ablation:end -->"
        doc = DOCS.read_text(encoding="utf-8")
        body = (
            f"{start}\n\n`python benchmarks/memory_ablation.py all --model {args.model} --write-docs`\n\n{text}\n{end}"
        )
        if start in doc and end in doc:
            doc = doc[: doc.index(start)] + body + doc[doc.index(end) + len(end) :]
        else:
            doc = doc.rstrip("\n") + "\n\n## Memory ablation (issue 10)\n\n" + body + "\n"
        DOCS.write_text(doc, encoding="utf-8")
    return text


STEPS = {
    "contamination": step_contamination,
    "seed": step_seed,
    "seeded": step_seeded,
    "stream": step_stream,
    "math": step_math,
    "open-time": step_open_time,
    "report": step_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=[*STEPS, "all"])
    parser.add_argument("--model", default="local", help="as for xolver eval (default: local)")
    parser.add_argument("--api-base", default=None)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--agents", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="open-time store sizes")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help="report: update docs/benchmarks.md")
    args = parser.parse_args(argv)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    steps = list(STEPS) if args.step == "all" else [args.step]
    for step in steps:
        STEPS[step](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
