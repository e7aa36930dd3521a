"""`XolverConfig`: every knob of a solve, validated, loadable from a TOML file and the environment.

Precedence, lowest first: defaults, the config file (``$XOLVER_CONFIG`` or
``$XOLVER_HOME/config.toml``, default ``~/.xolver/config.toml``), environment variables
(``XOLVER_MODEL``, ``XOLVER_API_BASE``), then explicit arguments (CLI flags, keyword arguments).

Where the Xolver paper and its authors' code disagree, a switch chooses; the default is the paper.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xolver.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["MODEL_ROLES", "AnswerFormat", "RoleModel", "XolverConfig", "config_file_path", "xolver_home"]

AnswerFormat = Literal["auto", "boxed", "integer", "choice", "code", "text"]
SolveMethodName = Literal["reasoning", "program"]
DEFAULT_MODEL = "local"


def xolver_home() -> Path:
    """xolver's data folder: ``$XOLVER_HOME`` or ``~/.xolver``."""
    return Path(os.environ.get("XOLVER_HOME") or Path.home() / ".xolver").expanduser()


def config_file_path() -> Path:
    """The config file read by `XolverConfig.load`: ``$XOLVER_CONFIG`` or ``<home>/config.toml``."""
    explicit = os.environ.get("XOLVER_CONFIG")
    return Path(explicit).expanduser() if explicit else xolver_home() / "config.toml"


MODEL_ROLES = ("planner", "solver", "judge", "verifier", "learner", "retriever", "other")
"""The roles `XolverConfig.models` can give a model of their own (`xolver.models.base.AgentKind`)."""


class RoleModel(BaseModel):
    """A role's model with its own server or key (an entry of `XolverConfig.models`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = Field(None, repr=False)


class XolverConfig(BaseModel):
    """Settings of one `Xolver` (all solves it runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # --- backbone model
    model: str = Field(DEFAULT_MODEL, description="Model string: 'local', 'local/<file.gguf>', or a litellm model.")
    api_base: str | None = Field(None, description="Base URL for an OpenAI-compatible or self-hosted server.")
    api_key: str | None = Field(None, repr=False, description="API key; by default the provider's env var is used.")
    temperature: float = Field(
        0.2, ge=0.0, le=2.0, description="Sampling temperature of calls without a seat of their own (paper: 0.2)."
    )
    max_tokens: int | None = Field(None, ge=1, description="Completion cap per call (None: the backend default).")
    planner_max_tokens: int = Field(300, ge=16, description="Completion cap of the planner call.")
    judge_max_tokens: int = Field(200, ge=16, description="Completion cap of a judge call (a critique and a score).")
    verifier_max_tokens: int = Field(200, ge=16, description="Completion cap of a verifier call.")
    request_timeout: float = Field(120.0, gt=0, description="Seconds per model request attempt.")
    seed: int | None = Field(None, description="Sampling seed passed to backends that accept one.")
    reasoning: bool | None = Field(
        None, description="Whether the model is a reasoning model (None: detect it from its name and litellm)."
    )
    reasoning_effort: Literal["low", "medium", "high"] | None = Field(
        None, description="Reasoning effort sent to reasoning models (None: the provider's default)."
    )
    max_concurrency: int | None = Field(
        None,
        ge=0,
        description="Requests in flight per model (None: 1 for a server on this machine, "
        "e.g. a loopback api_base or ollama/lm_studio, else no limit; 0: no limit).",
    )

    stream_tokens: bool = Field(
        False, description="Emit AgentToken events as models generate (chat and server turn this on)."
    )

    # --- the team (paper: m = 3, I = 2)
    agents: int = Field(3, ge=1, le=16, description="Solver agents m; also the shared memory's size.")
    rounds: int = Field(2, ge=0, le=20, description="Refinement rounds I after the first.")
    inclusive_rounds: bool = Field(
        True, description="Paper: rounds 0..I (I+1 in all). False: I rounds in all, as the authors' code counts."
    )
    candidate_roles: int | None = Field(
        None, ge=1, description="Roles the planner drafts before picking m (default m + 2)."
    )
    exemplars_every_round: bool = Field(
        False, description="Paper: retrieved exemplars only in round 0. True: in every round (authors' code)."
    )
    share_critique: bool = Field(
        True, description="Paper: judge critiques are stored in the shared memory and shown to agents."
    )
    methods: list[Literal["reasoning", "program"]] | None = Field(
        None,
        description="How agents solve, cycled over the team: 'reasoning' (chain of thought) or 'program' "
        "(program-of-thought, run in the sandbox). Default: program, reasoning, reasoning, cycled.",
    )
    explore_temperature: float = Field(
        # 0.7, self-consistency's usual temperature: Qwen2.5-Coder-0.5B's chains of thought sampled there are
        # right about as often as its greedy one (GSM8K first 50: 106 of 500 samples, greedy 11 of 50), and
        # their mistakes spread, so a vote over them finds the right answer more often.
        0.7,
        ge=0.0,
        le=2.0,
        description="Temperature of every chain-of-thought agent after the first in round 0 (that one is greedy), "
        "and of every chain of thought in later rounds: a repeated greedy call would only repeat its vote.",
    )
    explore_program_temperature: float = Field(
        # 0.5: at 0.7 half of Qwen2.5-Coder-0.5B's programs did not run; at 0.5 they stay nearly as good as
        # the greedy one (GSM8K first 50: 11 against 8).
        0.5,
        ge=0.0,
        le=2.0,
        description="The same for program seats (the first program of round 0 is greedy, every later one samples "
        "here): programs break sooner than prose as the temperature rises.",
    )
    blind_check: bool = Field(
        True,
        description="When agents disagree, the judge first computes the answer with its own program, before "
        "it sees any candidate; candidates that match gain an executed check.",
    )
    exact_checks: bool = Field(
        True,
        description="Check answers against the problem itself in exact arithmetic, with no model and no sandbox: a "
        "problem that is only an arithmetic expression ('What is 17 * 23?') is evaluated and a candidate with its "
        "value settles the answer (any other is refuted); a 'use these numbers to obtain N' expression (Game of 24) "
        "is evaluated and its use of the numbers checked. False: neither runs (to measure what they add); the "
        "SymPy substitution, the redone arithmetic of chains of thought and the blind check are unaffected.",
    )
    later_rounds: Literal["resample", "refine"] = Field(
        "resample",
        description="What the rounds after the first are. 'resample': fresh, independent attempts at "
        "explore_temperature, so every candidate is a new sample for the vote (measured better with small models, "
        "which copy what they are shown); 'refine': the paper's refinement, each agent sees its previous attempt and "
        "the shared memory with checks and the judge's critiques. Code tasks always refine: they read the test "
        "results.",
    )
    resample_methods: list[SolveMethodName] | None = Field(
        default_factory=lambda: list[SolveMethodName](["reasoning"]),
        description="later_rounds='resample': how the fresh attempts of the rounds after the first solve, cycled "
        "over the team (None or []: as in round 0; when `methods` is set and this is not, `methods`). Default "
        "reasoning only: round 0's program seat and the judge's blind check already give the solve two executed "
        "programs, and a resampled program often repeats its first answer (Qwen2.5-Coder-0.5B on GSM8K: 23% of "
        "later-round programs did, 6% of chains of thought).",
    )
    judge_opinions: Literal["unchecked", "always", "never"] = Field(
        "unchecked",
        description="Math, later_rounds='refine': when the judge writes a critique and score per leading answer for "
        "the next round to read. 'unchecked': only when its blind check printed no answer (an executed check already "
        "grounds the round); 'always'; 'never'.",
    )
    early_stop: bool = Field(
        True,
        description="Stop as soon as independent methods agree and an executed check supports the answer "
        "(adaptive compute); otherwise run every round.",
    )
    agreement_votes: int = Field(
        3,
        ge=1,
        le=32,
        description="Math: candidates (the checker's program included) that must share the answer to stop early, "
        "besides two kinds of method and an executed check; capped at the team's agents plus the checker. "
        "2 stopped on wrong answers too often with a 0.5B model (docs/benchmarks.md).",
    )
    perfect_score: float = Field(
        1.0, gt=0.0, le=1.0, description="Code tasks: share of tests a candidate must pass to stop early."
    )
    answer_format: AnswerFormat = Field("auto", description="Format the verifier extracts the final answer in.")
    repair_attempts: int = Field(1, ge=0, le=3, description="Repair requests after an unparseable reply.")

    # --- tools
    python_tool: bool = Field(
        True, description="Run the Python blocks solvers write in a sandbox and show them the output."
    )
    max_tool_calls: int = Field(3, ge=0, le=10, description="Tool calls per agent per round.")
    tool_timeout: float = Field(10.0, gt=0, description="Wall seconds per Python snippet.")
    max_tool_seconds: float = Field(60.0, gt=0, description="Total tool seconds per solve.")
    function_calling: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Reasoning seats get the tools as native tool definitions when the model calls tools "
        "(auto: when it says so; on: always, e.g. a llama.cpp server run with --jinja; off: fenced blocks only).",
    )
    tools: list[str] = Field(
        default_factory=lambda: ["python", "sympy_check", "z3_check"],
        description="Tools offered natively (python, sympy_check, z3_check, lean_check, and your own tools' names).",
    )
    fenced_python: Literal["greedy", "all", "off"] = Field(
        "greedy",
        description="Which reasoning seats, on models without native tool calls, are invited to write ```python "
        "blocks, run in the sandbox and shown to them before they answer. greedy: the first reasoning seat only "
        "(the sampled seats are the team's votes and reason in words: the invitation made Qwen2.5-Coder-0.5B's "
        "samples worse, 7 right of 60 against 15 without; docs/benchmarks.md); all: every reasoning seat; off: "
        "none, and the program seats and the blind check are the team's executed method. true/false mean all/off.",
    )

    @field_validator("fenced_python", mode="before")
    @classmethod
    def _fenced_python_bool(cls, value: Any) -> Any:
        # Before it named seats it was a switch: True invited every reasoning seat.
        if isinstance(value, bool):
            return "all" if value else "off"
        return value

    fenced_tools: bool = Field(
        False,
        description="Also offer the non-python tools to models without native tool calls, as ```tool JSON blocks.",
    )
    lean_command: list[str] | None = Field(
        None, description="The command that runs Lean 4 (--json FILE is appended); default: `lean` on PATH."
    )
    lean_project: str | None = Field(None, description="A Lake project (with Mathlib) to run `lake env lean` in.")
    lean_timeout: float = Field(120.0, gt=0, description="Wall seconds per Lean check.")

    # --- code tasks (answer_format="code")
    code_judge: Literal["execute", "llm"] = Field(
        "execute",
        description="Paper: score = share of tests passed, run for real. 'llm': the judge model reads the code.",
    )
    synthesize_tests: int = Field(3, ge=0, le=10, description="Tests the model writes from the statement (0: none).")
    debug_attempts: int = Field(2, ge=0, le=5, description="Verifier repairs of a program that fails a given test.")

    # --- episodic memory
    memory_mode: Literal["off", "frozen", "learn"] = Field(
        "learn", description="off: no retrieval; frozen: retrieve only (Xolver -); learn: also write back (Xolver +)."
    )
    memory_store: Literal["chroma", "memory"] = Field(
        "chroma", description="chroma: persistent vector store at memory_path; memory: in-process BM25, lost at exit."
    )
    memory_path: Path | None = Field(None, description="Chroma store folder (default: $XOLVER_HOME/memory).")
    memory_url: str | None = Field(
        None,
        description="A Chroma server (`chroma run`) to share one memory between processes and hosts, "
        "e.g. http://127.0.0.1:8000; when set it replaces memory_path.",
    )
    embedder: str | None = Field(
        None, description="sentence-transformers model name or path for the store (default all-MiniLM-L6-v2)."
    )
    retrieval_k: int = Field(5, ge=0, le=50, description="Exemplars retrieved per problem (paper: 5).")
    retrieval_strategies: int = Field(3, ge=0, le=20, description="Strategies retrieved per problem.")
    retrieval_code: int = Field(3, ge=0, le=20, description="Code fragments retrieved per problem.")
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="Ranking: dense + BM25 fused by reciprocal rank, or one of them (paper: bm25)."
    )
    retrieval_min_similarity: float | None = Field(
        0.3,
        ge=-1.0,
        le=1.0,
        description="Similarity floor: a retrieved record whose cosine similarity to the problem is below this is not "
        "shown (None: no floor; stores without vectors have none).",
    )
    experience_max_tokens: int | None = Field(
        1200, ge=0, description="Token budget (about 4 characters each) of the experience shown in one solver prompt."
    )
    memory_max_strategies: int | None = Field(
        2000,
        ge=1,
        description="Per namespace, live strategy records kept; over it, the least useful are retired after a write.",
    )
    distill_from: Literal["contrast", "success"] = Field(
        "contrast",
        description="contrast: distill only when the team split (some candidates had the checked answer, some "
        "did not), comparing right and wrong attempts; success: distill every checked solve from its best trajectory.",
    )
    self_retrieval: Literal["off", "when_empty", "always"] = Field(
        "off",
        description="The paper's self-retrieval: the model recalls a related problem and its solution, "
        "when the store found nothing (when_empty) or instead of the store (always).",
    )
    self_retrieval_per_agent: bool = Field(
        False, description="Authors' code: every agent recalls in every round. Default: one recall per solve."
    )
    distill: bool = Field(
        True, description="After a solve worth learning from, one call distils strategies and code fragments."
    )
    write_back: Literal["best", "last"] = Field(
        "best", description="Paper: write back the best trajectory. 'last': the last response, as the authors' code."
    )
    write_back_min_score: float = Field(
        0.9, ge=0.0, le=1.0, description="Write back only when the chosen entry scored at least this."
    )
    namespace: str = Field("default", min_length=1, description="Memory namespace (tenant).")

    # --- budgets per solve; when one is spent the solve stops with the best answer so far
    max_calls: int | None = Field(None, ge=1, description="Model calls per solve.")
    max_total_tokens: int | None = Field(None, ge=1, description="Prompt + completion tokens per solve.")
    max_seconds: float | None = Field(None, gt=0, description="Wall seconds per solve.")

    # --- persistence
    checkpoint_path: Path | None = Field(
        None, description="SQLite file for LangGraph checkpoints (resume by thread id)."
    )

    # --- cost levers: a model per role, fallbacks, a dollar budget, a model-call cache
    models: dict[str, str | RoleModel] = Field(
        default_factory=dict,
        description="A model per role (planner, solver, judge, verifier, learner, retriever, other): a model "
        "string, or a table with model, api_base and api_key. A role not named uses `model`; api_base and api_key "
        "apply to `model` only. In the config file: a [models] table.",
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        description="Models tried in order when a call's model fails with a provider error after its retries.",
    )
    max_cost: float | None = Field(
        None, gt=0, description="US dollars per solve (prices from litellm; local models cost nothing)."
    )
    cache: bool = Field(
        False,
        description="Keep the replies of temperature-0 model calls on disk, keyed by the full request, and "
        "answer a repeated request from there (sampled calls are never cached).",
    )
    cache_path: Path | None = Field(None, description="The model-call cache file (default $XOLVER_HOME/cache.sqlite).")

    @field_validator("models")
    @classmethod
    def _check_roles(cls, value: dict[str, str | RoleModel]) -> dict[str, str | RoleModel]:
        unknown = sorted(set(value) - set(MODEL_ROLES))
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(map(repr, unknown))}; roles: {', '.join(MODEL_ROLES)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> XolverConfig:
        if self.candidate_roles is not None and self.candidate_roles < self.agents:
            raise ValueError(f"candidate_roles ({self.candidate_roles}) must be >= agents ({self.agents})")
        return self

    @property
    def total_rounds(self) -> int:
        """Rounds a solve runs at most."""
        return self.rounds + 1 if self.inclusive_rounds else max(1, self.rounds)

    @property
    def later_round_methods(self) -> list[SolveMethodName] | None:
        """How resampled rounds solve: `resample_methods` when the user set it (or left `methods` alone), else
        `methods`: a team the user set to, say, programs only stays programs only in every round."""
        if "resample_methods" in self.model_fields_set or self.methods is None:
            return self.resample_methods or self.methods
        return self.methods

    @property
    def drafted_roles(self) -> int:
        return self.candidate_roles or self.agents + 2

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> XolverConfig:
        """Build a config from the file, the environment and `overrides` (`None` values are ignored).

        Raises:
            ConfigError: the file is unreadable or invalid, or a value is out of range.
        """
        data: dict[str, Any] = {}
        file = Path(path).expanduser() if path else config_file_path()
        if path and not file.is_file():
            raise ConfigError(f"config file not found: {str(file)!r}")
        if file.is_file():
            try:
                parsed = tomllib.loads(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
                raise ConfigError(f"cannot read config file {str(file)!r}: {e}") from e
            table = parsed.get("xolver", parsed)
            if not isinstance(table, dict):
                raise ConfigError(f"config file {str(file)!r}: [xolver] must be a table")
            data.update(table)
            if "xolver" in parsed and "models" in parsed:  # a top-level [models] table beside [xolver]
                data["models"] = {**data.get("models", {}), **parsed["models"]}
        env_map = {"XOLVER_MODEL": "model", "XOLVER_API_BASE": "api_base", "XOLVER_MEMORY_STORE": "memory_store"}
        for env, key in env_map.items():
            if os.environ.get(env):
                data[key] = os.environ[env]
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "config"
            raise ConfigError(f"invalid setting {where}: {first['msg']}") from e
