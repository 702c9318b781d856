"""How often the review's own AST checks fire on real code with no planted bugs (issue 18): a check that fires on
correct code often is worse than none, and the planted-bug sets cannot show that (every file there is small and
planted). Counts each check's findings per corpus and lists where each fired, so a reader can judge them.

Corpora: the Python standard library of the running interpreter, EdgeMind's own code, and a fixed list of installed
packages. The first two were read while the checks were written (their fires changed the checks); the packages were
run only after, so theirs are the fresh figures. Folders named test/tests are skipped (tests hold bugs on purpose),
and site-packages inside the stdlib folder (installed packages are not the stdlib).

    .venv/bin/python benchmarks/review_fires.py --json benchmarks/results/review_fires.json
"""

from __future__ import annotations

import argparse
import ast
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..engine import review_bounds, review_conditions, review_logic, review_names, review_values
from ..engine.review_findings import Finding
from ..errors import EdgeMindError
from .script import write_result
from .word_math import _commit

# (module label, its checks): every check that has a CHECKS tuple of its own.
MODULES: tuple[tuple[str, tuple[Callable[[ast.AST], Iterator[Finding]], ...]], ...] = (
    ("review_logic", review_logic.CHECKS), ("review_conditions", review_conditions.CHECKS),
    ("review_bounds", review_bounds.CHECKS), ("review_names", review_names.CHECKS),
    ("review_values", review_values.CHECKS))
PACKAGES = ("aiohttp", "alembic", "attr", "click", "dateutil", "filelock", "fsspec", "git", "httpx",
            "huggingface_hub", "hypothesis", "jinja2", "jsonschema")
SKIPPED_FOLDERS = frozenset({"test", "tests", "site-packages"})  # site-packages: not the stdlib


def check_name(module: str, check: Callable[..., Any]) -> str:
    return f"{module}.{check.__name__.lstrip('_')}"


def python_files(roots: Iterable[Path]) -> Iterator[Path]:
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if not SKIPPED_FOLDERS & set(path.relative_to(root).parts):
                yield path


def count_fires(roots: list[Path], base: Path) -> dict[str, Any]:
    """Files, lines, each check's number of findings and where each fired (path relative to base), over the
    Python files under roots that parse."""
    counts = {check_name(m, c): 0 for m, checks in MODULES for c in checks}
    fires: list[dict[str, Any]] = []
    files = lines = 0
    for path in python_files(roots):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        files += 1
        lines += source.count("\n")
        for module, checks in MODULES:
            for check in checks:
                for finding in check(tree):
                    name = check_name(module, check)
                    counts[name] += 1
                    fires.append({"path": path.relative_to(base).as_posix(), "line": finding.line, "check": name,
                                  "message": finding.message})
    return {"files": files, "lines": lines, "counts": counts, "fires": fires}


def corpora(root: Path) -> dict[str, tuple[list[Path], Path, bool]]:
    """name -> (folders, the folder paths are shown relative to, whether it was read while the checks were
    written)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    purelib = Path(sysconfig.get_paths()["purelib"])
    packages = [purelib / p for p in PACKAGES]
    missing = [p.name for p in packages if not p.is_dir()]
    if missing:
        raise EdgeMindError(f"these packages are not installed in {purelib}: {', '.join(missing)}")
    ours = [root / d for d in ("core", "kernels", "plugins", "app") if (root / d).is_dir()]
    return {"python stdlib": ([stdlib], stdlib.parent, True), "edgemind": (ours, root, True),
            "installed packages": (packages, purelib, False)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/review_fires.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", dest="json_out", type=Path, default=None, help="write the result here")
    ap.add_argument("--note", default="", help="one paragraph: what reading the fires showed")
    args = ap.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    result: dict[str, Any] = {
        "kind": "review_fires", "commit": _commit(), "python": sys.version.split()[0],
        "command": [".venv/bin/python", "benchmarks/review_fires.py"], "skipped_folders": sorted(SKIPPED_FOLDERS),
        "corpora": {}}
    for name, (roots, base, seen) in corpora(root).items():
        counted = count_fires(roots, base)
        result["corpora"][name] = {"roots": [r.relative_to(base).as_posix() or "." for r in roots], "seen": seen,
                                   **counted}
        fired = {k: v for k, v in counted["counts"].items() if v}
        print(f"{name}: {counted['files']} files, {counted['lines']} lines, fires {fired or 'none'}")
    if args.note:
        result["note"] = args.note
    if args.json_out:
        write_result(args.json_out, result)
    return 0
