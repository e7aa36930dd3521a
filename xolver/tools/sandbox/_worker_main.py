"""Entry point of a sandbox worker process: ``python _worker_main.py CONFIG_JSON``.

The worker is the ``_worker`` package next to this file (its docstring describes the processes and
the wire protocol). Run as a script, this file puts its own folder first on ``sys.path``, so the
package is imported by the standard library alone, without xolver or its dependencies.
"""

from __future__ import annotations

import errno
import os
import sys

if __name__ == "__main__":
    from _worker.supervisor import main

    # Our folder and our modules must not shadow modules the snippet imports (e.g. `import limits`).
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    for name in [n for n in sys.modules if n == "_worker" or n.startswith("_worker.")]:
        del sys.modules[name]
    try:
        main()
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
