"""A child process for the durability tests: writes to a store, then exits or gets killed.

Usage:
    python store_worker.py add PATH TAG N BATCH      add N records tagged TAG, BATCH per call
    python store_worker.py import PATH FILE BATCH    import a JSONL file, printing progress lines
"""

from __future__ import annotations

import sys

from xolver.memory.chroma import ChromaExperienceStore
from xolver.memory.embedders import HashEmbedder
from xolver.memory.importer import import_jsonl
from xolver.memory.records import ExperienceRecord


def main(argv: list[str]) -> int:
    command, path = argv[0], argv[1]
    store = ChromaExperienceStore(path, embedder=HashEmbedder(), near_duplicate_threshold=None)
    if command == "add":
        tag, n, batch = argv[2], int(argv[3]), int(argv[4])
        for start in range(0, n, batch):
            records = [
                ExperienceRecord(text=f"{tag} record {i} about topic {i % 17}", solution=f"s{i}", answer=str(i))
                for i in range(start, min(n, start + batch))
            ]
            store.add(records)
        print("done", flush=True)
    elif command == "import":
        file, batch = argv[2], int(argv[3])

        def progress(done: int, total: int) -> None:
            print(f"progress {done} {total}", flush=True)

        import_jsonl(store, file, fields=["problem=question", "solution=answer"], batch_size=batch, progress=progress)
        print("done", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
