"""The planner: drafts more expert roles than needed, with reasons, and picks m of them."""

from __future__ import annotations

import re

from pydantic import BaseModel

from xolver.agents.runner import AgentRunner
from xolver.agents.templates import render
from xolver.models.base import CallTags, Message
from xolver.solution import PlannedRole

__all__ = ["GENERIC_ROLES", "PlannerOutput", "pad_roles", "parse_plan", "plan_roles"]

# Used when the planner proposes fewer than m usable roles (or none). Distinct angles, so padded
# teams still disagree usefully.
GENERIC_ROLES: tuple[tuple[str, str], ...] = (
    ("Careful Calculator", "works step by step and double-checks every computation"),
    ("Mathematical Modeler", "translates the problem into equations before solving"),
    ("Skeptical Reviewer", "looks for misread conditions and counter-examples"),
    ("Algebraist", "manipulates expressions symbolically and simplifies"),
    ("Algorithm Designer", "breaks the task into a procedure and traces it"),
    ("Estimator", "sanity-checks magnitudes and units"),
    ("Case Analyst", "splits the problem into cases and covers each"),
    ("Backward Solver", "works from the goal back to the givens"),
)

FORMAT = "Roles:\n1. <Role name>: <reason>\n2. <Role name>: <reason>\nSelected: <numbers of the roles you pick>"


class PlannerOutput(BaseModel):
    """The planner's parsed reply."""

    drafted: list[PlannedRole]
    selected: list[int]


_ROLE_LINE = re.compile(
    r"^\s*(?:(\d{1,2})[.)]|[-*•])\s+(?:\*\*)?(?:Role\s*\d*\s*[:\-]\s*)?([^:\n*–—-]{2,60}?)(?:\*\*)?\s*(?:[:\-–—]\s*(.*))?$",
    re.MULTILINE,
)
_SELECTED = re.compile(r"(?:selected|chosen|pick(?:ed)?|choose)\s*(?:roles?)?\s*[:=]?\s*([^\n]*)", re.IGNORECASE)


def parse_plan(text: str) -> PlannerOutput | None:
    """Parse numbered or bulleted roles and a "Selected:" line; None when no role is found."""
    head = _SELECTED.split(text, maxsplit=1)[0] if _SELECTED.search(text) else text
    drafted: list[PlannedRole] = []
    seen: set[str] = set()
    for m in _ROLE_LINE.finditer(head):
        name = re.sub(r"\s+", " ", m.group(2)).strip(" .*`\"'")
        if not name or len(name.split()) > 6 or name.lower() in seen or name.lower().startswith("selected"):
            continue
        seen.add(name.lower())
        drafted.append(PlannedRole(name=name, reason=(m.group(3) or "").strip(" *")))
    if not drafted:
        return None
    selected: list[int] = []
    sel = _SELECTED.search(text)
    if sel:
        for token in re.findall(r"\d+", sel.group(1)):
            index = int(token) - 1
            if 0 <= index < len(drafted) and index not in selected:
                selected.append(index)
        if not selected:  # selected by name
            for i, role in enumerate(drafted):
                if role.name.lower() in sel.group(1).lower():
                    selected.append(i)
    return PlannerOutput(drafted=drafted, selected=selected)


def pad_roles(roles: list[PlannedRole], m: int) -> list[PlannedRole]:
    """Exactly m roles: the given ones first, then generic roles not already present."""
    out = list(roles[:m])
    names = {r.name.lower() for r in out}
    for name, reason in GENERIC_ROLES:
        if len(out) >= m:
            break
        if name.lower() not in names:
            out.append(PlannedRole(name=name, reason=reason, padded=True))
            names.add(name.lower())
    i = 1
    while len(out) < m:  # more agents than generic roles
        out.append(PlannedRole(name=f"Independent Solver {i}", reason="solves independently", padded=True))
        i += 1
    return out


def choose(plan: PlannerOutput | None, m: int) -> list[PlannedRole]:
    """The m roles to use: the planner's picks, then its other drafts, then generic padding."""
    if plan is None:
        return pad_roles([], m)
    picked = [plan.drafted[i] for i in plan.selected]
    rest = [r for i, r in enumerate(plan.drafted) if i not in plan.selected]
    return pad_roles(picked + rest, m)


async def plan_roles(
    runner: AgentRunner, problem: str, *, agents: int, drafts: int, repair_attempts: int
) -> list[PlannedRole]:
    """One planner call (plus bounded repairs): m roles for the team."""
    if agents == 1 and drafts <= 1:
        return pad_roles([], 1)
    messages = [Message("user", render("planner", problem=problem, drafts=drafts, agents=agents))]
    tags = CallTags(role="planner")
    response = await runner.call(messages, tags)
    if response.truncated and parse_plan(response.text) is None:
        # Cut at the token cap before naming one role: a repair under the same cap rambles again
        # (SmolLM2-135M: twice 300 tokens, 47 of a 160 s solve). Generic roles cost nothing.
        return choose(None, agents)
    parsed = await runner.ask_again(
        messages, response.text, tags, parse_plan, repair_format=FORMAT, repair_attempts=repair_attempts
    )
    return choose(parsed.value, agents)
