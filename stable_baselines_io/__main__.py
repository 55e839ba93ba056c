"""``python -m stable_baselines_io``: the command line (see :mod:`stable_baselines_io.cli`)."""

import sys

from stable_baselines_io.cli import main

sys.exit(main())
