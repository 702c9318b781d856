"""The test command runs the suite in parallel workers unless the caller chose otherwise."""

from __future__ import annotations

import pytest

import bootstrap


@pytest.mark.parametrize(("cpus", "expected"), [(1, []), (2, ["-n", "2"]), (16, ["-n", "4"])])
def test_one_worker_per_core_up_to_four_each_file_on_one_worker(cpus: int, expected: list[str]) -> None:
    args = bootstrap.pytest_args(["tests/core"], cpus=cpus)
    assert args == ([*expected, "--dist", "loadfile", "tests/core"] if expected else ["tests/core"])


@pytest.mark.parametrize("chosen", [["-n", "0"], ["-n3"], ["--numprocesses=1"], ["-p", "no:xdist"]])
def test_workers_the_caller_asks_for_win(chosen: list[str]) -> None:
    assert bootstrap.pytest_args([*chosen, "-x"], cpus=8) == [*chosen, "-x"]


def test_the_layers_compiled_at_setup_are_the_packages_setup_py_installs() -> None:
    """Every module of the editable install gets its bytecode at set-up (a layer left out would compile at each
    start again); compared with setup.py's own list, read from its source."""
    import ast
    tree = ast.parse((bootstrap.ROOT / "setup.py").read_text(encoding="utf-8"))
    layers = next(node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "LAYERS" for t in node.targets))
    assert set(bootstrap.SOURCE_LAYERS) == set(ast.literal_eval(layers))
