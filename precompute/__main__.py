"""`python -m precompute ...`: see precompute.cli."""

import sys

from precompute.cli import main

sys.exit(main())
