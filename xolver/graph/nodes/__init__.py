"""The graph's nodes. Each reads state, does one step of the method, and returns a state update.

Nodes get their dependencies (model, budget, memory, sandbox) from LangGraph's runtime context and
emit typed events through the runtime's stream writer. They read state and write it back through
`xolver.graph.codec`, and make their model calls through a `xolver.graph.step.Step`, whose agent
runners share one ledger: a spent budget never raises out of a node, it is recorded in
``budget_stop`` and the routing sends the solve to the verifier.

- `team`: plan (the roles) and write_tests (code tasks)
- `memory`: retrieve (exemplars, self-recall) and write_back (learning)
- `round`: solve, collect, check (the judge's blind program), judge, update_shared_memory
- `answer`: verify (the answer, and whether an executed check agreed with it)
"""

from xolver.graph.nodes.answer import verify
from xolver.graph.nodes.memory import retrieve, write_back
from xolver.graph.nodes.round import check, collect, judge, solve, update_shared_memory
from xolver.graph.nodes.team import plan, write_tests

__all__ = [
    "check",
    "collect",
    "judge",
    "plan",
    "retrieve",
    "solve",
    "update_shared_memory",
    "verify",
    "write_back",
    "write_tests",
]
