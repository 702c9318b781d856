"""benchmarks/*.py are thin commands over core/bench: each one loads (its imports resolve), and the measuring
helpers they share behave as their results rely on. Speed itself is judged only by the benchmarks, never here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgemind.core.bench.engine_overhead import PROMPTS, fresh_prompts
from edgemind.core.bench.script import run_script, write_result
from edgemind.core.errors import TrainingRefused, TuneCancelled

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_script_loads_and_has_a_main(script: str) -> None:
    spec = importlib.util.spec_from_file_location(f"bench_script_{script[:-3]}", BENCHMARKS / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # runs its imports, not main()
    assert callable(module.main)


def test_engine_vs_raw_never_asks_the_same_prompt_twice_in_a_run() -> None:
    """With the cache lookups on, a repeated prompt would be a cache hit, not the miss the TTFT is meant to be."""
    next_prompt = fresh_prompts()
    asked = [next_prompt() for _ in range(3 * len(PROMPTS) + 1)]
    assert len(set(asked)) == len(asked)
    assert asked[:len(PROMPTS)] == list(PROMPTS)


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_script_ends_through_the_one_line_error_runner(script: str) -> None:
    """A bad path or a missing extra must read as one line with its exit code, as `edgemind` reports it, in every
    script: a script with its own `__main__` handling drifts (one printed the bare message, one forgot exit codes)."""
    source = (BENCHMARKS / script).read_text(encoding="utf-8")
    main_block = source.split('if __name__ == "__main__":', 1)[-1]
    assert "run_script(main" in main_block


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_script_writes_its_result_through_the_one_writer(script: str) -> None:
    """The result files docs_page renders are written one way (folder, indent, UTF-8, final newline): a script that
    writes its own JSON drifts, as they had (no folder made, other indents, no final newline)."""
    source = (BENCHMARKS / script).read_text(encoding="utf-8")
    assert "write_text(json.dumps" not in source


def test_a_result_file_gets_its_folder_and_keeps_text_as_it_is(tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder" / "r.json"
    write_result(out, {"prompt": "café ≥ 2", "file": Path("/x/y.gguf")})
    text = out.read_text(encoding="utf-8")
    assert text.endswith("}\n") and "café ≥ 2" in text
    assert json.loads(text) == {"prompt": "café ≥ 2", "file": "/x/y.gguf"}


def test_the_runner_gives_our_errors_their_headline_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    def refused() -> int:
        raise TrainingRefused("aggressive needs 95% error reduction")

    def stopped() -> int:
        raise TuneCancelled("stopped at step 3; run the same command to resume")

    for main, code, line in ((refused, 2, "error: aggressive needs 95% error reduction"),
                             (stopped, 130, "stopped: stopped at step 3; run the same command to resume")):
        with pytest.raises(SystemExit) as ended:
            run_script(main)
        assert ended.value.code == code
        assert capsys.readouterr().err.strip() == line
    with pytest.raises(SystemExit) as ended:
        run_script(lambda: 0)
    assert ended.value.code == 0


@pytest.mark.parametrize("script", ["int4_kernels.py", "tmac_kernels.py"])
def test_a_kernel_benchmark_given_a_malformed_shape_says_so_in_one_line_before_measuring(script: str) -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--shapes", "896x", "--repeats", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: shapes must look like 896x4864, got 896x"
    assert "bandwidth" not in done.stdout  # refused before any measuring
