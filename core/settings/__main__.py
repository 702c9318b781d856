"""`python -m edgemind.core.settings --markdown` prints the README's settings table; `--write-readme FILE` puts it
between FILE's settings-table markers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .table import settings_table_markdown, with_table


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m edgemind.core.settings", description=__doc__)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--markdown", action="store_true", help="print the settings table as Markdown")
    what.add_argument("--write-readme", metavar="FILE", help="replace the table between FILE's markers")
    args = p.parse_args()
    if args.markdown:
        sys.stdout.write(settings_table_markdown())
        return 0
    path = Path(args.write_readme)
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
