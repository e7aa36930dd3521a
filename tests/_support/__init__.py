"""Helpers every test package may use (test packages never import from each other).

scripts.py       canned replies for scripted solves (PLAN, solved, program, verdict, by_role)
                 and a fake-server responder for a whole team (respond_391)
fake_openai.py   a real HTTP server on 127.0.0.1 speaking enough of the OpenAI chat API
REPO             the repository's root, for tests that start a subprocess in it
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (the folder holding ``xolver/`` and ``tests/``)."""
