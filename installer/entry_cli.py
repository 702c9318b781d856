"""The bundle's console program (`edgemind`): the CLI and the API server, exactly as `pip install` makes them."""

import sys

from edgemind.core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
