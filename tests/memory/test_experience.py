"""What a solver is shown: the rendering of each kind, the similarity floor (real chroma, real
MiniLM embeddings), and ranking by track record."""

from __future__ import annotations

from pathlib import Path

from xolver.agents.experience import fit_budget, format_experience
from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import SentenceTransformerEmbedder
from xolver.memory.records import ExperienceRecord
from xolver.memory.retrieval import retrieve_experience
from xolver.solution import Exemplar

NATALIA = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
WENG = (
    "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?"
)


def test_the_rendering_of_each_kind() -> None:
    exemplars = [
        Exemplar(
            id="p",
            kind="problem",
            text="17 rows of 23 trees?",
            solution="17*23=<<17*23=391>>391\n#### 391",
            answer="391",
            verified=True,
        ),
        Exemplar(id="u", kind="problem", text="An unchecked one", solution="wrong", answer="7"),
        Exemplar(
            id="s",
            kind="strategy",
            text="Multiply rows by items per row.",
            when_to_use="equal rows",
            when_not_to_use="uneven rows",
        ),
        Exemplar(id="c", kind="strategy", text="Do not add when the rows are equal.", cautionary=True),
        Exemplar(id="h", kind="code", text="grid count", code="def grid(r, p):\n    return r * p"),
    ]
    from xolver.agents.experience import worked_solution

    exemplars[0] = exemplars[0].model_copy(update={"solution": worked_solution(exemplars[0].solution)})
    assert format_experience(exemplars) == (
        "Worked examples (different problems, solved and checked):\n\n"
        "Example 1: 17 rows of 23 trees?\nSolution: 17*23=391\nAnswer: 391\n\n"
        "Strategies that helped on similar problems:\n\n"
        "- Multiply rows by items per row. (when: equal rows; not when: uneven rows)\n\n"
        "Mistakes to avoid (seen on similar problems):\n\n"
        "- Do not add when the rows are equal.\n\n"
        "Helper code (tested):\n\n"
        "# grid count\n```python\ndef grid(r, p):\n    return r * p\n```\n\n"
    )
    assert "unchecked" not in format_experience(exemplars)
    assert format_experience([exemplars[1]]) == ""
    assert [e.id for e in fit_budget(exemplars, None)] == ["p", "s", "c", "h"]
    assert fit_budget(exemplars, 0) == []


def test_the_similarity_floor_drops_unrelated_records(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    with ChromaExperienceStore(tmp_path / "mem", embedder=real_embedder) as store:
        related = ExperienceRecord(text=NATALIA, solution="48/2 = 24; 48 + 24 = 72", answer="72", verified=True)
        unrelated = ExperienceRecord(text=WENG, solution="12/60*50 = 10", answer="10", verified=True)
        store.add([related, unrelated])
        # MiniLM similarities: 0.84 to the related problem, 0.39 to the unrelated one.
        query = "Natalia's friend sold 40 clips in June and half as many in July. How many clips in total?"
        for mode in ("hybrid", "dense", "bm25"):
            found = retrieve_experience(store, query, k_strategies=0, k_code=0, mode=mode, min_similarity=0.5)
            assert [h.record.id for h in found.problems] == [related.id], mode
            assert found.problems[0].similarity is not None and found.problems[0].similarity > 0.8
        # A geometry question is below 0.3 to both.
        triangle = "A triangle has sides 3, 4 and 5. What is its area?"
        assert not retrieve_experience(store, triangle, k_strategies=0, k_code=0, min_similarity=0.3)
        everything = retrieve_experience(store, query, k_strategies=0, k_code=0, mode="dense")
        assert {h.record.id for h in everything.problems} == {related.id, unrelated.id}
        assert all(h.similarity is not None for h in everything.problems)


def test_a_record_that_keeps_hurting_falls_behind_and_then_out(
    tmp_path: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    with ChromaExperienceStore(tmp_path / "mem", embedder=real_embedder, merge_threshold=None) as store:
        a = ExperienceRecord(kind="strategy", text="For half as many, divide the first amount by two, then add both.")
        b = ExperienceRecord(kind="strategy", text="When one amount is half another, halve it and sum the two amounts.")
        store.add([a, b])
        query = NATALIA + " How many altogether?"
        first = retrieve_experience(store, query, k_problems=0, k_code=0, k_strategies=2, mode="dense")
        top = first.strategies[0].record.id
        other = b.id if top == a.id else a.id
        for _ in range(3):
            store.record_use([top], 0.0)
            store.record_use([other], 1.0)
        again = retrieve_experience(store, query, k_problems=0, k_code=0, k_strategies=2, mode="dense")
        assert [h.record.id for h in again.strategies] == [other, top]
        store.record_use([top], 0.0)  # the fourth blame retires it
        last = retrieve_experience(store, query, k_problems=0, k_code=0, k_strategies=2, mode="dense")
        assert [h.record.id for h in last.strategies] == [other]


TRAIN = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k" / "train.jsonl"


def test_a_program_seat_is_shown_a_worked_example_as_the_program_its_calculator_notes_describe() -> None:
    from xolver.agents.experience import worked_program

    solution = (
        "There are 80/100 * 10 = <<80/100*10=8>>8 more purple flowers than yellow flowers.\n"
        "So there are 10 + 8 = <<10+8=18>>18 purple flowers.\n"
        "Purple and yellow sum up to 10 + 18 = <<10+18=28>>28.\n#### 28"
    )
    program = worked_program(solution)
    # Each sentence a comment, each note one step, earlier results carried forward by name.
    assert program == (
        "# There are 80/100 * 10 = 8 more purple flowers than yellow flowers.\nstep1 = 80 / 100 * 10\n"
        "# So there are 10 + 8 = 18 purple flowers.\nstep2 = 10 + step1\n"
        "# Purple and yellow sum up to 10 + 18 = 28.\nstep3 = 10 + step2\nprint(step3)"
    )
    assert worked_program("No notes here.\n#### 3") is None
    assert worked_program("It is <<__import__('os')=0>>0.") is None  # only arithmetic becomes code
    example = Exemplar(
        id="p", kind="problem", text="Flowers?", solution="prose", answer="28", code=program, verified=True
    )
    assert "Solution: prose" in format_experience([example])
    shown = format_experience([example], programs=True)
    assert shown.startswith("Worked examples") and f"Example 1: Flowers?\n```python\n{program}\n```" in shown


def test_the_programs_of_real_gsm8k_solutions_print_their_answers() -> None:
    import contextlib
    import io
    import json

    from xolver.agents.experience import worked_program

    if not TRAIN.is_file():
        import pytest

        pytest.skip("shared data not present")
    rows = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines()[:200]]
    right = 0
    for row in rows:
        program = worked_program(row["answer"])
        if program is None:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(program, {"__builtins__": {"print": print}})  # arithmetic only: worked_program's contract
        gold = float(row["answer"].rsplit("####", 1)[1].replace(",", ""))
        right += abs(float(out.getvalue()) - gold) < 1e-6
    assert right >= 180  # 6,999 of all 7,473 print the gold answer (about 94%)
