"""Typed records of the episodic (experience) memory."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExperienceRecord", "RecordKind", "ScoredRecord", "content_hash"]

RecordKind = Literal["problem", "strategy", "code"]


def content_hash(*parts: str) -> str:
    """SHA-256 of whitespace-normalised parts: equal content, equal hash, whatever the spacing."""
    h = hashlib.sha256()
    for part in parts:
        h.update(" ".join(part.split()).encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


class ExperienceRecord(BaseModel):
    """One piece of experience.

    - ``problem``: `text` is the problem, `solution` the verified solution or trajectory summary,
      `answer` the final answer.
    - ``strategy``: `text` is an abstract, reusable reasoning pattern.
    - ``code``: `text` is the fragment's purpose, `code` the fragment, `signature` its entry point.
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
    """A retrieval hit."""

    record: ExperienceRecord
    score: float
