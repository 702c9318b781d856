"""Lint and type checks of the product code: ruff and mypy find nothing, and `# type: ignore` comments never grow.

The rules are pyproject.toml's [tool.ruff] and [tool.mypy]; the tools are pinned in the `test` extra. To run only
these: `python3 bootstrap.py test tests/test_lint.py`. mypy takes about half a minute of CPU with a cold cache
(.mypy_cache, as in CI's fresh clone) and a few seconds with a warm one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("app", "core", "plugins", "kernels")  # imported as edgemind.<layer> (setup.py's package_dir)
SHIM = ROOT / ".mypy_cache" / "shim"  # pyproject.toml's [tool.mypy] mypy_path
# The `# type: ignore` comments in the product code may become fewer, never more. When you remove some, lower this
# number to the new count so that they cannot come back.
TYPE_IGNORE_BASELINE = 0
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore")


def installer_scripts() -> list[Path]:
    """installer/'s Python files: the *.py ones and the extension-less programs with a python shebang."""
    scripts = []
    for path in sorted((ROOT / "installer").iterdir()):
        if not path.is_file():
            continue
        with path.open("rb") as f:
            first = f.readline()
        if path.suffix == ".py" or (not path.suffix and first.startswith(b"#!") and b"python" in first):
            scripts.append(path)
    return scripts


def benchmark_scripts() -> list[Path]:
    """benchmarks/'s thin entry scripts over core/bench, checked like the product code they call."""
    return sorted((ROOT / "benchmarks").glob("*.py"))


def product_files() -> list[Path]:
    files = [path for layer in LAYERS for path in sorted((ROOT / layer).rglob("*.py"))]
    return [*files, ROOT / "bootstrap.py", *installer_scripts(), *benchmark_scripts()]


def tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def link_shim() -> Path:
    """Lay out the product code under the names it imports, as symbolic links: .mypy_cache/shim/edgemind/core -> core,
    and installer/'s extension-less scripts with a .py name (mypy takes them all as `__main__` otherwise)."""
    links = {Path("edgemind", layer): ROOT / layer for layer in LAYERS}
    links[Path("bootstrap.py")] = ROOT / "bootstrap.py"
    for script in installer_scripts():
        links[Path("installer", script.stem + ".py")] = script
    shutil.rmtree(SHIM, ignore_errors=True)  # removes the links, never what they point to
    try:
        for name, target in links.items():
            (SHIM / name).parent.mkdir(parents=True, exist_ok=True)
            (SHIM / name).symlink_to(target, target_is_directory=target.is_dir())
    except OSError as exc:  # Windows without the right to make symbolic links
        pytest.skip(f"mypy's view of the edgemind.* packages needs symbolic links: {exc}")
    return SHIM


def test_ruff_finds_nothing_in_the_product_code() -> None:
    result = tool("ruff", "check", "--output-format", "concise")
    if result.returncode != 0:
        pytest.fail(result.stdout + result.stderr, pytrace=False)


def test_ruff_checks_every_product_file() -> None:
    result = tool("ruff", "check", "--show-files")
    assert result.returncode == 0, result.stderr
    checked = {Path(line.strip()).resolve() for line in result.stdout.splitlines() if line.strip()}
    missing = [str(path.relative_to(ROOT)) for path in product_files() if path.resolve() not in checked]
    assert not missing, f"add these to [tool.ruff] include in pyproject.toml: {missing}"


@pytest.mark.timeout(900)  # a cold cache on a busy 2-core machine: half a minute of CPU can take minutes
def test_mypy_finds_nothing_in_the_product_code() -> None:
    shim = link_shim()
    result = tool("mypy", str(shim.relative_to(ROOT)), *(str(p.relative_to(ROOT)) for p in benchmark_scripts()))
    output = (result.stdout + result.stderr).replace(f"{shim.relative_to(ROOT)}/edgemind/", "")
    output = output.replace(f"{shim.relative_to(ROOT)}/", "")
    if result.returncode != 0:
        pytest.fail(output, pytrace=False)


def test_type_ignore_comments_never_grow() -> None:
    counts = {str(path.relative_to(ROOT)): len(TYPE_IGNORE.findall(path.read_text(encoding="utf-8")))
              for path in product_files()}
    total = sum(counts.values())
    where = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()) if n)
    assert total <= TYPE_IGNORE_BASELINE, (
        f"{total} `# type: ignore` comments, more than the baseline {TYPE_IGNORE_BASELINE}: type the code instead "
        f"({where})")
