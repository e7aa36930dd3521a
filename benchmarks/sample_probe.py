"""How often one sampled chain of thought is right, under the prompts a reasoning seat could get.

A probe, not a table generator: it isolates what the team's sampled seats get from what a
self-consistency sample gets. Variants (all end with the same ``\\boxed{}`` instruction):

- ``plain``: the self-consistency baseline prompt (user message only);
- ``baseline``: exactly what a self-consistency sample sends (its system message and user message, its
  seeds ``1000 * problem + sample``), so the pool can be drawn again with the replies kept;
- ``system``: a reasoning seat's prompt without the Python invitation (role system prompt + solver template);
- ``team``: the same with the invitation to run Python (`fenced_python`; the default gives it to the greedy seat only).

A reply cut at the token cap counts as wrong, as in the team. Results append to
``benchmarks/results/probe/sampled-<variant>-<temperature>.jsonl``; the server must be running::

    python benchmarks/sample_probe.py system --problems 20 --samples 4 --temperature 0.5 \\
        --api-base http://127.0.0.1:8089/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from xolver.agents.parsing import extract_answer
from xolver.agents.solver import _BRIEFS, FORMAT, TOOLS_HINT
from xolver.agents.templates import render
from xolver.eval.checking import answers_equivalent
from xolver.eval.datasets import Task, load_dataset
from xolver.eval.methods import BASELINE_SYSTEM, baseline_prompt

RESULTS = Path(__file__).resolve().parent / "results" / "probe"
ROLE, REASON = "Careful Calculator", " (works step by step and double-checks every computation)"


def messages(variant: str, task: Task) -> list[dict[str, str]]:
    if variant == "plain":
        return [{"role": "user", "content": baseline_prompt(task)}]
    if variant == "baseline":
        return [{"role": "system", "content": BASELINE_SYSTEM}, {"role": "user", "content": baseline_prompt(task)}]
    tools = TOOLS_HINT if variant == "team" else ""
    user = render("solver", experience="", problem=task.problem, tools=tools, format=FORMAT)
    system = render("solver_system", role=ROLE, reason=REASON, brief=_BRIEFS["reasoning"])
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def run(args: argparse.Namespace) -> None:
    tasks = load_dataset("gsm8k", args.data).tasks[: args.problems]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"sampled-{args.variant}-{args.temperature}{'-text' if args.keep_text else ''}.jsonl"
    right = total = 0
    async with httpx.AsyncClient(timeout=600) as client:
        with out.open("a", encoding="utf-8") as sink:
            for i, task in enumerate(tasks):
                if i < args.first:
                    continue
                for k in range(args.samples):
                    body: dict[str, Any] = {
                        "messages": messages(args.variant, task),
                        "temperature": args.temperature,
                        "max_tokens": args.max_tokens,
                        "seed": 1000 * i + k if args.variant == "baseline" else 1000 + 17 * i + k,
                    }
                    reply = (await client.post(f"{args.api_base}/chat/completions", json=body)).json()["choices"][0]
                    answer, _ = extract_answer(reply["message"]["content"], task.answer_format)
                    ok = (
                        reply["finish_reason"] != "length"
                        and answer is not None
                        and answers_equivalent(answer, task.answer)
                    )
                    right, total = right + ok, total + 1
                    row = {"i": i, "k": k, "answer": answer, "gold": task.answer, "ok": ok}
                    if args.keep_text:
                        row["text"] = reply["message"]["content"]
                    sink.write(json.dumps(row | {"finish": reply["finish_reason"]}) + "\n")
                    sink.flush()  # a killed probe keeps what it measured
                print(f"{args.variant} T={args.temperature} problem {i}: {right}/{total} right", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant", choices=["plain", "baseline", "system", "team"])
    parser.add_argument("--data", default="../shared/data/gsm8k/test.jsonl")
    parser.add_argument("--problems", type=int, default=20, help="probe the problems before this index")
    parser.add_argument("--first", type=int, default=0, help="skip the problems before this index")
    parser.add_argument("--keep-text", action="store_true", help="store each reply's text in its row")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--api-base", default="http://127.0.0.1:8089/v1")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
