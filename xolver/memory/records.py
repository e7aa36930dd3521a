"""Typed records of the episodic (experience) memory."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExperienceRecord", "RecordEvent", "RecordKind", "ScoredRecord", "content_hash"]

RecordKind = Literal["problem", "strategy", "code"]


def content_hash(*parts: str) -> str:
    """SHA-256 of whitespace-normalised parts: equal content, equal hash, whatever the spacing."""
    h = hashlib.sha256()
    for part in parts:
        h.update(" ".join(part.split()).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


class RecordEvent(BaseModel):
    """One change in a record's life after it was written: a merge, a supersession or a retirement."""

    model_config = ConfigDict(extra="forbid")

    at: float = Field(default_factory=time.time)
    action: Literal["merged", "superseded", "retired"]
    detail: str = ""


class ExperienceRecord(BaseModel):
    """One piece of experience.

    - ``problem``: `text` is the problem, `solution` the verified solution or trajectory summary,
      `answer` the final answer.
    - ``strategy``: `text` is an abstract, reusable reasoning pattern.
    - ``code``: `text` is the fragment's purpose, `code` the fragment, `signature` its entry point,
      `tests` the assertions it passed in the sandbox before it was stored.

    Track record (see `xolver.memory.curation`): `helped` / `hurt` count the solves it was shown in
    whose answer an independent check confirmed / did not; `retired` records are kept for audit but
    never retrieved; `evidence` counts the writes merged into it; `history` lists merges,
    supersessions and retirements.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: RecordKind = "problem"
    namespace: str = "default"
    domain: str = "general"
    text: str
    solution: str = ""
    answer: str = ""
    code: str = ""
    signature: str = ""
    source: str = "solve"
    created_at: float = Field(default_factory=time.time)
    score: float | None = None
    verified: bool = False
    times_retrieved: int = 0
    mean_use_score: float | None = None
    helped: int = 0
    hurt: int = 0
    retired: bool = False
    evidence: int = 1
    cautionary: bool = False
    when_to_use: str = ""
    when_not_to_use: str = ""
    tests: list[str] = Field(default_factory=list)
    history: list[RecordEvent] = Field(default_factory=list)

    @property
    def hash(self) -> str:
        """Content hash used for de-duplication (kind, namespace and content, not id or stats)."""
        return content_hash(self.kind, self.namespace, self.text, self.solution, self.answer, self.code)

    def search_text(self) -> str:
        """The text that is indexed for retrieval."""
        if self.kind == "code":
            return f"{self.text}\n{self.signature}"
        return self.text


class ScoredRecord(BaseModel):
    """A retrieval hit: `score` is the ranking's own score, `similarity` the query's cosine
    similarity to the record when it is known (dense hits; filled in by `retrieve_experience`)."""

    record: ExperienceRecord
    score: float
    similarity: float | None = None
