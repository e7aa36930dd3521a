"""`python -m xolver`."""

import sys

from xolver.cli import main

sys.exit(main())
