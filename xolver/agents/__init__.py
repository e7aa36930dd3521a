"""The agents of a solve: planner, solver, judge and verifier (prompt + output model + parser each).

The roles are internal to the graph and imported from their modules; the one name an embedder
needs is the `Budget` a `SolveContext` carries.
"""

from xolver.agents.runner import Budget

__all__ = ["Budget"]
