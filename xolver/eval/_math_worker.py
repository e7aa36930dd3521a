"""The math-verify worker process: reads ``[gold, target]`` JSON lines on stdin, answers ``true``/``false``.

Started by `xolver.eval.checking`; runs math-verify with its own (SIGALRM) timeouts disabled, because
the parent enforces the time bound by killing this process.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    """Serve checks until stdin closes."""
    from math_verify import parse, verify

    for line in sys.stdin:
        try:
            gold, target = json.loads(line)
            parsed_gold = parse(f"\\boxed{{{gold}}}", parsing_timeout=None)
            parsed_target = parse(f"\\boxed{{{target}}}", parsing_timeout=None)
            ok = bool(parsed_gold and parsed_target and verify(parsed_gold, parsed_target, timeout_seconds=None))
        except Exception:  # anything that cannot be parsed or compared is "not shown equal"
            ok = False
        sys.stdout.write("true\n" if ok else "false\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
