"""Does the way retrieved worked examples are shown change what a small model answers? One call each.

A diagnosis for issue 10's seeded arm (the team with GSM8K train as frozen memory answered fewer of
the first GSM8K test problems than the team without memory). It isolates the rendering from the
team: one greedy chain-of-thought call per problem, the reasoning seat's own prompt, and the same
retrieved records (the seed store, the team's retrieval settings: top 5, similarity floor 0.3,
1,200-token budget), shown four ways:

    none      no experience (the seat's prompt as with memory off)
    block     the experience block right before the problem (what the team showed before this probe)
    labelled  the same block, then "Now solve this problem:" before the problem (``lead_into_problem``,
              what the team shows since this probe)
    turns     each worked example as a prior user/assistant exchange (the usual few-shot chat form),
              then the problem as the last user turn

and, for the program seat (one greedy program, run once in the sandbox, no repair round):

    program-none   the program seat's prompt with no experience
    program-block  the experience block as the reasoning seat gets it (prose worked solutions, then
                   the lead-in), what a program seat was shown before ``worked_program``
    program-code   worked examples shown as the programs their calculator notes describe
                   (`xolver.agents.experience.worked_program`)

A variant may name other retrieval settings after ``@``: ``turns@k1s0.6`` shows at most 1 worked
example (``retrieval_k``) and none below similarity 0.6 (``retrieval_min_similarity``).

Results append to ``benchmarks/results/experience-format.jsonl`` (one line per variant and problem,
resumable: finished pairs are skipped), and the summary is printed.

    python benchmarks/experience_format_probe.py --store benchmarks/results/memory-stores/gsm8k-seed \\
        --api-base http://127.0.0.1:8089/v1 --limit 30
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
OUT = ROOT / "benchmarks" / "results" / "experience-format.jsonl"
VARIANTS = ("none", "block", "labelled", "turns", "program-none", "program-block", "program-code")


def _exemplars(store: Any, problem: str, settings: dict[str, Any]) -> list[Any]:
    """What the team's retrieve step shows for `problem` with the default settings and `settings`."""
    from xolver.config import XolverConfig
    from xolver.graph.nodes.memory import shown_exemplars

    return shown_exemplars(store, problem, XolverConfig(**settings))


def _settings(variant: str) -> tuple[str, dict[str, Any]]:
    """``turns@k1s0.6``: the rendering ``turns`` with retrieval_k 1 and similarity floor 0.6."""
    base, _, rest = variant.partition("@")
    settings: dict[str, Any] = {}
    for key, value in re.findall(r"([ks])([0-9.]+)", rest):
        if key == "k":
            settings["retrieval_k"] = int(value)
        else:
            settings["retrieval_min_similarity"] = float(value)
    return base, settings


def messages(variant: str, problem: str, exemplars: Sequence[Any]) -> list[dict[str, str]]:
    """The chat messages of one variant (the reasoning seat's system and user prompts)."""
    from xolver.agents.experience import format_experience, lead_into_problem
    from xolver.agents.solver import _BRIEFS, FORMAT
    from xolver.agents.templates import render

    system = render("solver_system", role="problem solver", reason="", brief=_BRIEFS["reasoning"])

    def ask(text: str, experience: str = "") -> str:
        return render("solver", experience=experience, problem=text, tools="", format=FORMAT)

    chat = [{"role": "system", "content": system}]
    match variant:
        case "none":
            chat.append({"role": "user", "content": ask(problem)})
        case "block":
            chat.append({"role": "user", "content": ask(problem, format_experience(exemplars))})
        case "labelled":
            chat.append({"role": "user", "content": ask(problem, lead_into_problem(format_experience(exemplars)))})
        case "turns":
            for e in exemplars:
                chat.append({"role": "user", "content": ask(e.text)})
                chat.append({"role": "assistant", "content": f"{e.solution}\n\\boxed{{{e.answer}}}"})
            chat.append({"role": "user", "content": ask(problem)})
        case _:
            raise ValueError(variant)
    return chat


def program_messages(variant: str, problem: str, exemplars: Sequence[Any]) -> list[dict[str, str]]:
    """The chat messages of a program-seat variant (its system prompt and first-round prompt)."""
    from xolver.agents.experience import format_experience, lead_into_problem
    from xolver.agents.programs import PROGRAM_FORMAT, print_hint
    from xolver.agents.solver import _BRIEFS
    from xolver.agents.templates import render

    system = render("solver_system", role="problem solver", reason="", brief=_BRIEFS["program"])
    shown = {"program-none": "", "program-block": format_experience(exemplars)}.get(variant)
    if shown is None:
        if variant != "program-code":
            raise ValueError(variant)
        shown = format_experience(exemplars, programs=True)
    user = render(
        "solver_program",
        experience=lead_into_problem(shown),
        problem=problem,
        format=PROGRAM_FORMAT,
        print_hint=print_hint("auto"),
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def run_program(text: str) -> str | None:
    """The answer the reply's program prints when the sandbox runs it once, or None."""
    import asyncio

    from xolver.agents.programs import program_answer, python_block
    from xolver.tools.toolbox import ToolBox

    code = python_block(text)
    if code is None:
        return None

    async def run() -> str | None:
        box = ToolBox()
        try:
            call = await box.run_python(0, code)
        finally:
            await box.aclose()
        return program_answer(call.output, "auto") if call.ok else None

    return asyncio.run(run())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="the seed store (memory_ablation.py seed)")
    parser.add_argument("--api-base", required=True, help="an OpenAI-compatible server, e.g. llama-server")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="the served model's name")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import httpx

    from xolver.agents.parsing import answers_match, extract_answer
    from xolver.eval.datasets import load_dataset
    from xolver.memory.chroma import ChromaExperienceStore
    from xolver.memory.stores import embedder_from_spec

    if not args.store.is_dir():
        parser.error(f"--store: {args.store} does not exist (build it: python benchmarks/memory_ablation.py seed)")
    variants = [v for v in args.variants.split(",") if v]
    tasks = load_dataset("gsm8k", args.data).tasks[: args.limit]
    done: set[tuple[str, str]] = set()
    if args.out.is_file():
        for line in args.out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                done.add((r["variant"], r["id"]))
    with (
        ChromaExperienceStore(args.store, embedder=embedder_from_spec(None)) as store,
        httpx.Client(base_url=args.api_base, timeout=600) as http,
        args.out.open("a", encoding="utf-8") as out,
    ):
        for task in tasks:
            for variant in variants:
                if (variant, task.id) in done:
                    continue
                base, settings = _settings(variant)
                exemplars = _exemplars(store, task.problem, settings)
                program = base.startswith("program-")
                chat = (program_messages if program else messages)(base, task.problem, exemplars)
                body = {"model": args.model, "messages": chat, "temperature": 0.0, "seed": 0}
                body["max_tokens"] = args.max_tokens
                try:
                    response = http.post("/chat/completions", json=body)
                    response.raise_for_status()
                    reply = response.json()
                    choice = reply["choices"][0]
                except (httpx.HTTPError, ValueError, KeyError, IndexError) as e:
                    # Finished pairs are already on disk: a rerun resumes after the last one.
                    print(f"experience_format_probe: {args.api_base} failed ({e}); rerun to resume", file=sys.stderr)
                    return 1
                text = choice["message"]["content"] or ""
                cut = choice.get("finish_reason") == "length"
                read = run_program if program else (lambda reply: extract_answer(reply)[0])
                answer = None if cut else read(text)
                correct = bool(answer) and answers_match(str(answer), str(task.answer))
                row = {"variant": variant, "id": task.id, "correct": correct, "answer": answer, "cut": cut}
                row |= {
                    "gold": task.answer,
                    "exemplars": len(exemplars),
                    "prompt_tokens": reply["usage"]["prompt_tokens"],
                }
                out.write(json.dumps(row) + "\n")
                out.flush()
                print(f"{task.id:>4} {variant:<14} {'right' if correct else 'wrong'} {answer}", file=sys.stderr)
    rows = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = {t.id for t in tasks}
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant and r["id"] in ids]
        right = sum(r["correct"] for r in mine)
        cut = sum(r["cut"] for r in mine)
        print(f"{variant:<14} {right}/{len(mine)} right, {cut} cut at the cap")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
