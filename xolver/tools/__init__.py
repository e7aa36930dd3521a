"""Tools agents use to check their steps (Python sandbox, SymPy/Z3 checks, Lean)."""
