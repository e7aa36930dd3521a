"""Benchmarks of scale-out: `xolver batch` throughput locally and on Ray, and the memory on a Chroma server.

1. ``throughput``: `run_batch` (what ``xolver batch`` runs) over the first 40 GSM8K test problems
   against a stand-in OpenAI endpoint on 127.0.0.1 where every call takes 0.5 s (the team m=3, I=1,
   memory off, ``max_concurrency=0`` so the loopback endpoint is not limited to one request at a
   time), locally at concurrency 1/2/4/8 and on a local Ray (``ray.init(num_cpus=2)``) at 1/2/4/8
   problems in flight. Ray's workers are warmed up first (one small batch, not timed: a worker's first
   problem imports the team, seconds of CPU); its cold first batch is reported beside.
2. ``memory``: the same 10k records (synthetic 384-d vectors, clustered like real embeddings, and
   random-word documents) added to an embedded `ChromaExperienceStore` and to one on a ``chroma run``
   server on 127.0.0.1: add throughput, dense and hybrid query p50/p95, recall@10 against exact
   search, and what a second client pays to see another writer's records (side index build, and an
   incremental refresh after 100 new records).

Run: ``nice -n 19 python benchmarks/scale_bench.py throughput`` and ``... memory``. Each prints a
table and rewrites its section (``<!-- scale:start -->`` / ``<!-- memory-server:start -->``) of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests._support: the stand-in endpoint and the chroma run launcher

import numpy as np  # noqa: E402
from _machine import LoadSampler, describe_machine, machine_facts  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DOC = ROOT / "docs" / "benchmarks.md"
SECTIONS = {
    "throughput": ("<!-- scale:start -->", "<!-- scale:end -->"),
    "memory": ("<!-- memory-server:start -->", "<!-- memory-server:end -->"),
}


def write_doc(which: str, section: str) -> None:
    start, end = SECTIONS[which]
    text = DOC.read_text(encoding="utf-8")
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------- throughput


def gsm8k(n: int) -> list[Any]:
    from xolver.batch import Problem

    lines = (DATA / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [Problem(id=f"gsm8k-{i}", text=json.loads(line)["question"]) for i, line in enumerate(lines)]


async def timed_batch(problems: list[Any], xo: Any, **kwargs: Any) -> tuple[float, list[Any]]:
    from xolver.batch import run_batch

    started = time.perf_counter()
    items = await run_batch(problems, xo, **kwargs)
    return time.perf_counter() - started, items


_ENDPOINT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from tests._support.fake_openai import fake_openai_server
from tests._support.scripts import respond_391
with fake_openai_server(respond_391, delay=float(sys.argv[2])) as (base, requests):
    print(base, flush=True)
    try:
        sys.stdin.read()  # until the benchmark closes our stdin
    finally:
        print(len(requests), flush=True)
"""


@contextlib.contextmanager
def stand_in_endpoint(latency: float) -> Iterator[tuple[str, list[int]]]:
    """The stand-in OpenAI endpoint in a process of its own (as a real one would be): yields its base URL
    and, after the block, a one-item list with the number of requests it served."""
    served: list[int] = []
    process = subprocess.Popen(
        [sys.executable, "-c", _ENDPOINT, str(ROOT), str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        yield process.stdout.readline().strip(), served
    finally:
        process.stdin.close()
        served.append(int(process.stdout.readline().strip() or 0))
        process.wait(timeout=30)


def bench_throughput(args: argparse.Namespace) -> str:
    import ray

    from xolver import Xolver
    from xolver.batch import RayOptions

    problems = gsm8k(args.problems)
    warm = [p.__class__(id=f"warm-{i}", text=p.text) for i, p in enumerate(gsm8k(8))]
    rows: list[tuple[str, int, float, float, int, int]] = []
    cold: dict[int, float] = {}
    with stand_in_endpoint(args.latency) as (base, requests), LoadSampler() as load:
        team = {
            "model": "openai/stand-in",
            "api_base": base,
            "api_key": "k",
            "agents": 3,
            "rounds": 1,
            "memory_mode": "off",
            "max_concurrency": 0,
        }
        with Xolver(**team) as xo:
            for c in args.levels:
                seconds, items = asyncio.run(timed_batch(problems, xo, concurrency=c))
                calls = sum(i.solution.usage.totals.calls for i in items if i.solution)
                rows.append(
                    ("local", c, seconds, 60 * len(items) / seconds, calls, sum(i.error is not None for i in items))
                )
                print(rows[-1], flush=True)
            # The workers import xolver from this checkout, as the driver does.
            env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "XOLVER_MEMORY_STORE": "memory", "PYTHONPATH": str(ROOT)}
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
            try:
                for c in args.levels:
                    options = RayOptions(max_in_flight=c)
                    # The first batch at this size starts the pool's workers and builds their teams
                    # (cold); the measured batch finds them running (same pool, same team settings).
                    cold[c], _ = asyncio.run(timed_batch(warm[:c], xo, executor="ray", ray=options))
                    seconds, items = asyncio.run(timed_batch(problems, xo, executor="ray", ray=options))
                    calls = sum(i.solution.usage.totals.calls for i in items if i.solution)
                    errors = sum(i.error is not None for i in items)
                    if errors:  # say why, or the table only shows that something failed
                        first = next(i.error for i in items if i.error)
                        print(f"ray, {c} in flight: {errors} errors, the first: {first}", flush=True)
                    rows.append(("ray", c, seconds, 60 * len(items) / seconds, calls, errors))
                    print(rows[-1], flush=True)
            finally:
                ray.shutdown()
    base_rate = {kind: next(r[3] for r in rows if r[0] == kind and r[1] == 1) for kind in ("local", "ray")}
    lines = [
        f"Throughput of `xolver batch` (`run_batch`) on the first {len(problems)} GSM8K test problems, team m=3, I=1, "
        f"memory off, against a stand-in OpenAI endpoint (its own process) on 127.0.0.1 where every call takes "
        f"{args.latency} s "
        "(`max_concurrency=0`). Ray: a local `ray.init(num_cpus=2)` and the default pool (`RayOptions`: worker "
        "processes that solve up to 4 problems at once each, so 8 in flight are 2 processes; 0.25 CPU per problem); "
        "each Ray row follows a warm-up batch of as many problems as are in flight (not timed; its time is the cold "
        "column).",
        "",
        "| executor | in flight | seconds | problems/min | x of 1 in flight | model calls | errors | warm-up s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, c, seconds, rate, calls, errors in rows:
        warmup = f"{cold[c]:.1f}" if kind == "ray" else ""
        lines.append(
            f"| {kind} | {c} | {seconds:.1f} | {rate:.1f} | {rate / base_rate[kind]:.2f} | {calls} | {errors} "
            f"| {warmup} |"
        )
    lines += [
        "",
        f"Machine: {describe_machine(machine_facts('ray', 'chromadb', 'litellm'))}; {load.summary().describe()}.",
        f"Command: `nice -n 19 python benchmarks/scale_bench.py throughput` ({requests[0]} requests served).",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- memory


def synthetic(n: int, dim: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Unit vectors around 200 cluster centres, and documents of random words."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(200, dim))
    labels = rng.integers(0, 200, size=n)
    vectors = centres[labels] + 0.6 * rng.normal(size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(3000)]
    pick = random.Random(seed)
    docs = [" ".join(pick.choices(words, k=12)) + f" topic{labels[i]}" for i in range(n)]
    return vectors.astype(np.float32), docs


def bench_store(
    store: Any, vectors: np.ndarray, docs: list[str], queries: np.ndarray, qdocs: list[str]
) -> dict[str, float]:
    from xolver.memory.records import ExperienceRecord

    records = [ExperienceRecord(id=f"r{i}", text=doc, source="bench") for i, doc in enumerate(docs)]
    started = time.perf_counter()
    ids: list[str] = []
    for s in range(0, len(records), 256):
        ids += store.add_embedded(records[s : s + 256], vectors[s : s + 256].tolist())
    add_seconds = time.perf_counter() - started
    order = {rid: i for i, rid in enumerate(ids)}
    dense_ms, hybrid_ms, recalls = [], [], []
    for q, qdoc in zip(queries, qdocs, strict=True):
        t = time.perf_counter()
        hits = store.search(qdoc, k=10, mode="dense", query_vector=q.tolist())
        dense_ms.append((time.perf_counter() - t) * 1000)
        exact = set(np.argsort(-(vectors @ q))[:10].tolist())
        got = {order[h.record.id] for h in hits if h.record.id in order}
        recalls.append(len(got & exact) / 10)
        t = time.perf_counter()
        store.search(qdoc, k=10, mode="hybrid", query_vector=q.tolist())
        hybrid_ms.append((time.perf_counter() - t) * 1000)
    return {
        "records": float(len(ids)),
        "add_per_s": len(ids) / add_seconds,
        "dense_p50": percentile(dense_ms, 0.5),
        "dense_p95": percentile(dense_ms, 0.95),
        "hybrid_p50": percentile(hybrid_ms, 0.5),
        "hybrid_p95": percentile(hybrid_ms, 0.95),
        "recall10": statistics.mean(recalls),
    }


def bench_memory(args: argparse.Namespace) -> str:
    from tests._support.chroma_server import chroma_server
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.embedders import HashEmbedder
    from xolver.memory.records import ExperienceRecord

    dim = 384
    vectors, docs = synthetic(args.records, dim, seed=1)
    queries, qdocs = synthetic(args.queries, dim, seed=2)
    results: dict[str, dict[str, float]] = {}
    refresh: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, LoadSampler() as load:
        embedded = ChromaExperienceStore(
            Path(tmp) / "embedded", embedder=HashEmbedder(dim), near_duplicate_threshold=None
        )
        results["embedded"] = bench_store(embedded, vectors, docs, queries, qdocs)
        embedded.close()
        print("embedded", results["embedded"], flush=True)
        with chroma_server(Path(tmp) / "server") as server:
            store = ChromaExperienceStore(url=server.url, embedder=HashEmbedder(dim), near_duplicate_threshold=None)
            results["server"] = bench_store(store, vectors, docs, queries, qdocs)
            print("server", results["server"], flush=True)
            reader = ChromaExperienceStore(url=server.url, embedder=HashEmbedder(dim), near_duplicate_threshold=None)
            t = time.perf_counter()
            reader.search(qdocs[0], k=10, mode="bm25")
            refresh["cold"] = time.perf_counter() - t
            t = time.perf_counter()
            reader.search(qdocs[1], k=10, mode="bm25")
            refresh["warm"] = time.perf_counter() - t
            extra_v, extra_d = synthetic(100, dim, seed=3)
            store.add_embedded(
                [ExperienceRecord(id=f"x{i}", text=d, source="bench") for i, d in enumerate(extra_d)], extra_v.tolist()
            )
            t = time.perf_counter()
            reader.search(qdocs[2], k=10, mode="bm25")
            refresh["incremental"] = time.perf_counter() - t
            reader.close()
            store.close()
    lines = [
        f"The same {args.records:,} records (synthetic {dim}-d vectors around 200 clusters, random-word documents) "
        f"in an embedded store and on a `chroma run` server on 127.0.0.1 (chromadb's HTTP client); {args.queries} "
        "queries; HNSW ef_search 400 in both; writes in batches of 256 with the near-duplicate check off (it is one "
        "more query per batch in both modes).",
        "",
        "| store | add records/s | dense p50 ms | dense p95 ms | hybrid p50 ms | hybrid p95 ms | recall@10 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['add_per_s']:,.0f} | {r['dense_p50']:.1f} | {r['dense_p95']:.1f} | {r['hybrid_p50']:.1f} | "
            f"{r['hybrid_p95']:.1f} | {r['recall10']:.3f} |"
        )
    lines += [
        "",
        "The lexical half on a server (a BM25 side index in each client, docs/scale.md): a second client's first "
        f"query built it over HTTP in {refresh['cold']:.2f} s at {args.records:,} records; a later query took "
        f"{refresh['warm'] * 1000:.1f} ms; after another client wrote 100 records, the next query's incremental "
        f"refresh (list the ids, fetch the 100 new ones) took {refresh['incremental'] * 1000:.0f} ms.",
        "",
        f"Machine: {describe_machine(machine_facts('chromadb'))}; {load.summary().describe()}.",
        "Command: `nice -n 19 python benchmarks/scale_bench.py memory`.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="which", required=True)
    tp = sub.add_parser("throughput")
    tp.add_argument("--problems", type=int, default=40)
    tp.add_argument("--latency", type=float, default=0.5)
    tp.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4, 8])
    mem = sub.add_parser("memory")
    mem.add_argument("--records", type=int, default=10_000)
    mem.add_argument("--queries", type=int, default=200)
    for p in (tp, mem):
        p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ["XOLVER_MEMORY_STORE"] = "memory"
    section = bench_throughput(args) if args.which == "throughput" else bench_memory(args)
    print(section)
    if not args.no_write:
        write_doc(args.which, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
