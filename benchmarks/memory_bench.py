"""Benchmark of the experience memory: import throughput, query latency, recall, retrieval quality.

What it measures, on the real all-MiniLM-L6-v2 embedder and the shared corpora in ``../shared/data``:

1. Import throughput: ``import_jsonl`` of GSM8K train (7,473) and the MATH corpus (4,500) into a
   fresh `ChromaExperienceStore`, embeddings included.
2. Topic precision@5: for each MATH-500 problem, the share of its top 5 hits in the 4,500-problem
   corpus whose ``type`` equals the problem's ``subject``; BM25 alone (the paper's retriever), dense
   alone and hybrid (reciprocal rank fusion).
3. Query latency p50/p95 and recall@10 against exact (brute-force) search at 10k and 100k records.
   The records are the real embeddings of both corpora; beyond their 11,973 records the store is
   padded with synthetic vectors (normalised mixes of two real vectors plus noise, so they follow the
   corpus distribution rather than a uniform sphere, which would flatter nobody).

Run: ``python benchmarks/memory_bench.py [--sizes 10000 100000] [--queries 200]``. It prints a table
and rewrites the section between ``<!-- memory:start -->`` and ``<!-- memory:end -->`` in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from _machine import LoadSampler, describe_machine, machine_facts

from xolver.memory.base import SearchMode
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import SentenceTransformerEmbedder
from xolver.memory.importer import import_jsonl
from xolver.memory.records import ExperienceRecord

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- memory:start -->", "<!-- memory:end -->"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def exact_top10(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    return np.argpartition(-(matrix @ query), 10)[:10]


def git_rev() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def bench_import(
    workdir: Path, embedder: SentenceTransformerEmbedder, lines: list[str], limit: int | None = None
) -> ChromaExperienceStore:
    store = ChromaExperienceStore(workdir / "corpora", embedder=embedder)
    embedder.embed(["warm up"])  # model load is not import throughput
    specs = [
        ("GSM8K train", DATA / "gsm8k" / "train.jsonl", "gsm8k", ["problem=question", "solution=answer"]),
        (
            "MATH corpus 4500",
            DATA / "math" / "math_test_corpus4500.jsonl",
            "math",
            ["problem=problem", "solution=solution", "domain=type"],
        ),
    ]
    lines.append("### Import (real embeddings, near-duplicate threshold 0.98)\n")
    lines.append("| corpus | lines | imported | skipped (dup) | seconds | records/s |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for label, path, ns, fields in specs:
        report = import_jsonl(
            store, path, kind="problem", domain="math", namespace=ns, fields=fields, batch_size=256, limit=limit
        )
        print(f"import {label}: {report.imported} in {report.seconds:.1f}s", flush=True)
        lines.append(
            f"| {label} | {report.lines:,} | {report.imported:,} | {report.skipped_duplicates:,} | "
            f"{report.seconds:.1f} | {report.records_per_second:.0f} |"
        )
    lines.append("")
    return store


def bench_quality(store: ChromaExperienceStore, lines: list[str]) -> dict[str, float]:
    queries = [json.loads(x) for x in (DATA / "math" / "math500_test.jsonl").read_text().splitlines() if x.strip()]
    precision: dict[SearchMode, list[float]] = {"bm25": [], "dense": [], "hybrid": []}
    for q in queries:
        vector = store.embed([q["problem"]])[0]
        for mode in precision:
            hits = store.search(q["problem"], k=5, kind="problem", namespace="math", mode=mode, query_vector=vector)
            same = sum(h.record.domain == q["subject"] for h in hits)
            precision[mode].append(same / 5)
    means: dict[str, float] = {m: 100.0 * statistics.fmean(v) for m, v in precision.items()}
    print("topic precision@5", means, flush=True)
    lines.append(
        f"### Retrieval quality: topic precision@5, MATH-500 ({len(queries)} problems) "
        "against the 4,500-problem corpus\n"
    )
    lines.append("Share of the top 5 hits whose MATH `type` equals the query's `subject`.\n")
    lines.append("| retriever | precision@5 |")
    lines.append("|---|---:|")
    for mode, label in (
        ("bm25", "BM25 alone (the paper's retriever)"),
        ("dense", "dense alone (all-MiniLM-L6-v2)"),
        ("hybrid", "hybrid (RRF of both)"),
    ):
        lines.append(f"| {label} | {means[mode]:.1f}% |")
    lines.append(f"\nHybrid minus BM25: **{means['hybrid'] - means['bm25']:+.1f} points** (target: at least +5).\n")
    return means


def real_corpus(store: ChromaExperienceStore) -> tuple[list[ExperienceRecord], np.ndarray]:
    """Every imported record with its stored embedding (read straight from chromadb)."""
    records: list[ExperienceRecord] = []
    vectors: list[list[float]] = []
    for ns in ("gsm8k", "math"):
        collection = store._folder.collections[("problem", ns)]
        offset = 0
        while True:
            page = collection.get(include=["metadatas", "embeddings"], limit=5000, offset=offset)
            if not page["ids"]:
                break
            for meta, emb in zip(page["metadatas"] or [], page["embeddings"], strict=True):  # type: ignore[arg-type]
                records.append(ExperienceRecord.model_validate_json(str(meta["record"])))
                vectors.append([float(x) for x in emb])
            offset += len(page["ids"])
    return records, np.asarray(vectors, dtype=np.float32)


def bench_scale(
    workdir: Path,
    embedder: SentenceTransformerEmbedder,
    records: list[ExperienceRecord],
    vectors: np.ndarray,
    sizes: Sequence[int],
    n_queries: int,
    lines: list[str],
    sweep_size: int = 20_000,
) -> dict[int, dict[str, float]]:
    queries = [
        json.loads(x)["problem"] for x in (DATA / "math" / "math500_test.jsonl").read_text().splitlines() if x.strip()
    ]
    gsm_test = [
        json.loads(x)["question"] for x in (DATA / "gsm8k" / "test.jsonl").read_text().splitlines() if x.strip()
    ]
    texts = (queries[: n_queries // 2] + gsm_test[: n_queries - n_queries // 2])[:n_queries]
    qvecs = np.asarray(embedder.embed(texts), dtype=np.float32)
    t_embed = timed(lambda: embedder.embed(["a train leaves the station at 60 km/h"]), 30)
    rng = np.random.default_rng(0)
    results: dict[int, dict[str, float]] = {}
    sweeps: list[str] = []
    lines.append(f"### Query latency and recall@10 ({n_queries} real queries: MATH-500 and GSM8K test problems)\n")
    lines.append(
        'Dense = `search(mode="dense")` with the query vector given (HNSW, ef_search 400, M 32, ef_construction 200, '
        "through the public API: lock, filter, record decoding). BM25 = the side index. Hybrid = both fused by "
        "RRF (20 candidates each), query vector given. Embedding one query costs "
        f"p50 {percentile(t_embed, 0.5):.1f} ms on top of dense and hybrid. Exact = numpy brute force.\n"
    )
    lines.append(
        "| records | real / synthetic | build s | open + first query s | dense p50 / p95 ms | BM25 p50 / p95 ms "
        "| hybrid p50 / p95 ms | exact p50 ms | recall@10 |"
    )
    lines.append("|---:|---|---:|---:|---|---|---|---:|---:|")
    for size in sizes:
        path = workdir / f"scale-{size}"
        store = ChromaExperienceStore(path, embedder=embedder, near_duplicate_threshold=None)
        n_real = min(size, len(records))
        all_vecs = [vectors[:n_real]]
        all_recs = [r.model_copy(update={"namespace": "bench", "id": f"r{i}"}) for i, r in enumerate(records[:n_real])]
        n_syn = size - n_real
        if n_syn:
            a = rng.integers(0, len(records), n_syn)
            b = rng.integers(0, len(records), n_syn)
            w = rng.uniform(0.5, 0.9, (n_syn, 1)).astype(np.float32)
            syn = (
                w * vectors[a]
                + (1 - w) * vectors[b]
                + rng.normal(0, 0.02, (n_syn, vectors.shape[1])).astype(np.float32)
            )
            syn /= np.linalg.norm(syn, axis=1, keepdims=True)
            all_vecs.append(syn)
            for i in range(n_syn):
                src = records[int(a[i])]
                all_recs.append(
                    ExperienceRecord(
                        id=f"s{i}",
                        namespace="bench",
                        domain=src.domain,
                        text=f"variant {i}: {src.text}",
                        source="synthetic",
                    )
                )
        matrix = np.concatenate(all_vecs).astype(np.float32)
        t0 = time.perf_counter()
        step = 2000
        for start in range(0, size, step):
            store.add_embedded(all_recs[start : start + step], matrix[start : start + step].tolist())
            if (start // step) % 10 == 0:
                print(f"  {size}: {start + step} added, {time.perf_counter() - t0:.0f}s", flush=True)
        build = time.perf_counter() - t0
        store.close()
        t0 = time.perf_counter()
        store = ChromaExperienceStore(path, embedder=embedder, near_duplicate_threshold=None)
        # The first query after opening loads the HNSW index from disk and builds the BM25 side index
        # from the collection's documents: that is the real cost of opening a memory.
        store.search(texts[0], k=5, kind="problem", namespace="bench", query_vector=qvecs[0].tolist())
        open_s = time.perf_counter() - t0
        ids = [r.id for r in all_recs]
        dense_ms: list[float] = []
        recalls: list[float] = []
        for text, qv in zip(texts, qvecs, strict=True):
            t = time.perf_counter()
            hits = store.search(text, k=10, mode="dense", query_vector=qv.tolist(), kind="problem", namespace="bench")
            dense_ms.append((time.perf_counter() - t) * 1000.0)
            exact = {ids[i] for i in np.argsort(-(matrix @ qv))[:10]}
            recalls.append(len(exact & {h.record.id for h in hits}) / 10)
        exact_ms = timed(partial(exact_top10, matrix, qvecs[0]), 30)
        bm25_ms: list[float] = []
        hybrid_ms: list[float] = []
        for text, qv in zip(texts, qvecs, strict=True):
            t = time.perf_counter()
            store.search(text, k=10, mode="bm25", kind="problem", namespace="bench")
            bm25_ms.append((time.perf_counter() - t) * 1000.0)
            t = time.perf_counter()
            store.search(text, k=5, kind="problem", namespace="bench", query_vector=qv.tolist())
            hybrid_ms.append((time.perf_counter() - t) * 1000.0)
        res = {
            "build_s": build,
            "open_s": open_s,
            "dense_p50": percentile(dense_ms, 0.5),
            "dense_p95": percentile(dense_ms, 0.95),
            "bm25_p50": percentile(bm25_ms, 0.5),
            "bm25_p95": percentile(bm25_ms, 0.95),
            "hybrid_p50": percentile(hybrid_ms, 0.5),
            "hybrid_p95": percentile(hybrid_ms, 0.95),
            "exact_p50": percentile(exact_ms, 0.5),
            "recall": statistics.fmean(recalls),
        }
        results[size] = res
        print(size, res, flush=True)
        lines.append(
            f"| {size:,} | {n_real:,} / {n_syn:,} | {build:.0f} | {open_s:.1f} "
            f"| {res['dense_p50']:.1f} / {res['dense_p95']:.1f} | "
            f"{res['bm25_p50']:.1f} / {res['bm25_p95']:.1f} | {res['hybrid_p50']:.1f} / {res['hybrid_p95']:.1f} | "
            f"{res['exact_p50']:.1f} | {res['recall']:.3f} |"
        )
        store.close()
        shutil.rmtree(path, ignore_errors=True)
    lines.append("")
    sweep_size = max(sweep_size, len(vectors))
    sweeps.extend(ef_sweep(workdir, embedder, vectors, qvecs, sweep_size))
    lines.append(
        f"ef_search sweep: a fresh index per setting, {sweep_size:,} records (M 32, ef_construction 200), "
        "the same queries; for uniform random vectors the queries are random too.\n"
    )
    lines.append("| vectors | ef_search | dense p50 / p95 ms | recall@10 |")
    lines.append("|---|---:|---|---:|")
    lines.extend(sweeps)
    lines.append("")
    return results


def ef_sweep(
    workdir: Path,
    embedder: SentenceTransformerEmbedder,
    vectors: np.ndarray,
    qvecs: np.ndarray,
    size: int = 20_000,
) -> list[str]:
    """Dense p50 and recall@10 per ef_search, on freshly built indexes of `size` records.

    Each setting gets its own index: chromadb 1.5 ignores an ef_search changed with `modify` on an
    index it has loaded (measured here: recall stays put), so a sweep on one index would be void.
    Two data sets: the real corpus vectors (padded as above) and uniform random unit vectors, the
    hard case where HNSW defaults lose recall.
    """
    rng = np.random.default_rng(1)
    dim = vectors.shape[1]
    pad = size - len(vectors)
    a, b = rng.integers(0, len(vectors), pad), rng.integers(0, len(vectors), pad)
    w = rng.uniform(0.5, 0.9, (pad, 1)).astype(np.float32)
    mixed = w * vectors[a] + (1 - w) * vectors[b] + rng.normal(0, 0.02, (pad, dim)).astype(np.float32)
    real = np.concatenate([vectors, mixed / np.linalg.norm(mixed, axis=1, keepdims=True)])
    uniform = rng.normal(size=(size, dim)).astype(np.float32)
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    uq = rng.normal(size=(len(qvecs), dim)).astype(np.float32)
    uq /= np.linalg.norm(uq, axis=1, keepdims=True)
    rows = []
    for label, matrix, queries in (("corpus", real, qvecs), ("uniform random", uniform, uq)):
        for ef in (50, 100, 200, 400):
            path = workdir / f"ef-{ef}-{label.replace(' ', '-')}"
            store = ChromaExperienceStore(path, embedder=embedder, near_duplicate_threshold=None, ef_search=ef)
            recs = [ExperienceRecord(id=f"v{i}", namespace="bench", text=f"vector {i}") for i in range(size)]
            for start in range(0, size, 2000):
                store.add_embedded(recs[start : start + 2000], matrix[start : start + 2000].tolist())
            # Only the vector is searched: the query text is not used by a dense search given one.
            store.search("", k=10, mode="dense", query_vector=queries[0].tolist(), kind="problem", namespace="bench")
            ms: list[float] = []
            recalls: list[float] = []
            for qv in queries:
                truth = {f"v{i}" for i in np.argsort(-(matrix @ qv))[:10]}
                t = time.perf_counter()
                hits = store.search("", k=10, mode="dense", query_vector=qv.tolist(), kind="problem", namespace="bench")
                ms.append((time.perf_counter() - t) * 1000.0)
                recalls.append(len(truth & {h.record.id for h in hits}) / 10)
            store.close()
            shutil.rmtree(path, ignore_errors=True)
            p50, p95, rec = percentile(ms, 0.5), percentile(ms, 0.95), statistics.fmean(recalls)
            print(f"ef_search {ef} {label} at {size}: p50 {p50:.1f} ms, recall {rec:.3f}", flush=True)
            rows.append(f"| {label} | {ef} | {p50:.1f} / {p95:.1f} | {rec:.3f} |")
    return rows


def write_doc(section: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = (
        DOC.read_text(encoding="utf-8")
        if DOC.is_file()
        else "# Benchmarks\n\nEach section is written by the script it names.\n"
    )
    block = f"{START}\n{section.rstrip()}\n{END}"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--sweep-size", type=int, default=20_000, help="records per index in the ef_search sweep")
    parser.add_argument("--import-limit", type=int, default=None, help="import only this many lines per corpus (smoke)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xolver-memory-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    embedder = SentenceTransformerEmbedder()
    lines: list[str] = ["## Experience memory", ""]
    command = "python benchmarks/memory_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
    machine = describe_machine(machine_facts("chromadb", "sentence-transformers", "torch", "numpy"))
    lines.append(f"Machine: {machine}. Commit {git_rev()}. Command: `{command.strip()}`.\n")
    started = time.perf_counter()
    load = LoadSampler().start()
    store = bench_import(workdir, embedder, lines, args.import_limit)
    means = bench_quality(store, lines)
    records, vectors = real_corpus(store)
    store.close()
    scale = bench_scale(workdir, embedder, records, vectors, args.sizes, args.queries, lines, args.sweep_size)
    lines.append("### Targets\n")
    big = scale.get(max(scale)) if scale else None
    if big is not None:
        ok_latency = big["dense_p50"] <= 10.0 and big["recall"] >= 0.95
        lines.append(
            f"- Query p50 <= 10 ms at {max(scale):,} records with recall@10 >= 0.95: "
            f"dense p50 {big['dense_p50']:.1f} ms, "
            f"recall {big['recall']:.3f}: **{'met' if ok_latency else 'missed'}**."
        )
    gain = means["hybrid"] - means["bm25"]
    lines.append(
        f"- Hybrid topic precision@5 at least 5 points above BM25: {gain:+.1f} points: "
        f"**{'met' if gain >= 5 else 'missed'}**."
    )
    load.stop()
    summary = load.summary()
    measured = f" While it ran, {summary.describe()}." if summary else ""
    if summary and summary.mean > summary.cores:
        measured += " The mean load exceeded the core count, so the timings include waiting for a core."
    lines.append(f"\nTotal benchmark time {time.perf_counter() - started:.0f} s.{measured}")
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_doc(section)
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
