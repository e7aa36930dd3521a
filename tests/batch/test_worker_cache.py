"""What a Ray worker keeps between tasks and batches (`xolver.batch.ray_executor`), without Ray."""

from __future__ import annotations

import threading

from xolver.batch.ray_executor import team_token, worker_cached
from xolver.config import XolverConfig


def test_equal_settings_share_a_team_and_any_difference_builds_another() -> None:
    config = XolverConfig(model="openai/stand-in", api_key="k1", agents=3)
    assert team_token(config) == team_token(XolverConfig(model="openai/stand-in", api_key="k1", agents=3))
    assert team_token(config) != team_token(config.model_copy(update={"agents": 2}))
    # The key is part of the settings: a team never serves a batch with another key.
    assert team_token(config) != team_token(XolverConfig(model="openai/stand-in", api_key="k2", agents=3))
    # Something that cannot be pickled (a live object) is never taken to be the same as before.
    lock = threading.Lock()
    assert team_token(config, lock) != team_token(config, lock)


def test_a_worker_keeps_one_team_per_token_and_closes_the_old_one() -> None:
    built: list[str] = []
    closed: list[str] = []

    def build(name: str) -> str:
        built.append(name)
        return name

    first = worker_cached("a", lambda: build("team a"), closed.append)
    again = worker_cached("a", lambda: build("team a, again"), closed.append)
    other = worker_cached("b", lambda: build("team b"), closed.append)
    assert (first, again, other) == ("team a", "team a", "team b")
    assert built == ["team a", "team b"] and closed == ["team a"]
