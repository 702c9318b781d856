"""`python -m edgemind.core.cli`: the same as the `edgemind` command."""

import sys

from .main import main

sys.exit(main())
