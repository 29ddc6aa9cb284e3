"""``python -m inverse_set``: the command line (:mod:`inverse_set.cli`)."""

import sys

from inverse_set.cli import main

sys.exit(main())
