"""The agents of a solve: planner, solver, judge and verifier (prompt + output model + parser each)."""

from xolver.agents.judge import JudgeVerdict
from xolver.agents.planner import PlannerOutput
from xolver.agents.runner import AgentRunner, Budget
from xolver.agents.solver import SolverOutput

__all__ = ["AgentRunner", "Budget", "JudgeVerdict", "PlannerOutput", "SolverOutput"]
