"""``python -m inverse_set``: the command line (:mod:`inverse_set.cli.main`)."""

import sys

from inverse_set.cli.main import main

sys.exit(main())
