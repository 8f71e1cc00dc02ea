"""`python -m bench [--quick] [--only SCENARIO ...]`: the same runner as bench/run.py."""

import sys

from bench.run import main

sys.exit(main())
