"""llama.cpp runs on the CPU it meets: the portable build's variants, the child-process check, the fallback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np
import pytest

from edgemind.core.backends.llama_native import (NativeCodeError, NativeGuard, child_command, describe_exit, lib_dir,
                                                 loaded_variant, model_key, run_child, variant_files)
from edgemind.core.hardware import cpu_features

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"
# What a child that dies of an illegal instruction looks like to its parent: a real process, a real signal.
SIGILL_CHILD = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]


def crashing(variants: set[str]) -> Callable[[list[str], float], subprocess.CompletedProcess[str]]:
    """A runner whose test runs of the named variants die of SIGILL (as AMX code did on a VM that reports AMX);
    every other run is the real child process."""
    def run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        if "smoke" in cmd:
            target = cmd[cmd.index("smoke") + 1]
            name = Path(target).name.split(".")[0].split("ggml-cpu-")[-1]
            if name in variants or "*" in variants:
                return run_child(SIGILL_CHILD, timeout)
        return run_child(cmd, timeout)

    return run


def test_a_crash_is_told_as_a_person_would_say_it() -> None:
    assert describe_exit(-signal.SIGILL) == "SIGILL: illegal instruction"
    assert describe_exit(-signal.SIGSEGV) == "SIGSEGV: segmentation fault"
    assert describe_exit(0xC0000005) == "0xC0000005: access violation"  # Windows, as Popen reports it
    assert describe_exit(-1073741795) == "0xC000001D: illegal instruction"  # the same, as a signed int
    assert describe_exit(3) == "exit status 3"


def test_the_build_offers_cpu_variants_ranked_for_this_cpu(tmp_path: Path) -> None:
    folder = lib_dir()
    assert folder is not None and folder.is_dir()
    files = variant_files(folder)
    if not files:
        pytest.skip("this llama-cpp-python was built without GGML_CPU_ALL_VARIANTS (not by bootstrap.py)")
    names = {f.name for f in files}
    assert any("haswell" in n for n in names) and any("x64" in n for n in names), names
    ranked = NativeGuard(tmp_path).variants()
    assert ranked and all(v.score > 0 for v in ranked)
    assert [v.score for v in ranked] == sorted((v.score for v in ranked), reverse=True)
    # ggml's ranking follows the CPU: AVX2 machines get at least the haswell code, never the plain x64 one first
    if "avx2" in cpu_features():
        assert ranked[0].name not in ("x64", "sse42", "sandybridge")
    if "avx512f" not in cpu_features():
        assert all(v.name not in ("skylakex", "icelake", "sapphirerapids", "zen4") for v in ranked)


def test_a_variant_that_crashes_is_skipped_for_the_next_and_the_outcome_is_kept(models_dir: Path,
                                                                                 tmp_path: Path) -> None:
    guard = NativeGuard(tmp_path, runner=crashing(set()))
    if len(guard.variants()) < 2:
        pytest.skip("fewer than two CPU variants run on this CPU")
    best = guard.variants()[0].name
    model = models_dir / TINY_FILE
    calls: list[list[str]] = []

    def counting(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return crashing({best})(cmd, timeout)

    check = NativeGuard(tmp_path, runner=counting).check(model, model_key(None, model))
    assert check.variant == guard.variants()[1].name
    assert [(a.variant, a.ok) for a in check.attempts] == [(best, False), (check.variant, True)]
    assert check.attempts[0].reason == "SIGILL: illegal instruction"
    assert len(calls) == 2
    # A later process reads the outcome instead of running the children again.
    calls.clear()
    again = NativeGuard(tmp_path, runner=counting).check(model, model_key(None, model))
    assert again.variant == check.variant and calls == []


def test_a_model_no_variant_runs_is_answered_by_onnx_int4_with_one_line_saying_why(
        models_dir: Path, tmp_path: Path, cli_env: dict[str, str]) -> None:
    artifacts = tmp_path / "artifacts"
    model = models_dir / TINY_FILE
    from edgemind.core.models.manifest import load_bundled_manifest

    sha = next(s.sha256 for s in load_bundled_manifest(models_dir) if s.id == "smollm2-135m-instruct")
    check = NativeGuard(artifacts / "native", runner=crashing({"*"})).check(model, model_key(sha, model))
    assert check.variant is None and check.attempts
    env = {**cli_env, "EDGEMIND_ARTIFACTS_DIR": str(artifacts), "EDGEMIND_ROUTER": "0"}
    done = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "ask", "What is 2 + 2?", "--json",
                           "--max-tokens", "8", "--no-cache"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["backend"] == "onnx_int4" and answer["tokens"] > 0
    warnings = [line for line in done.stderr.splitlines() if "llama.cpp" in line]
    assert len(warnings) == 1 and "SIGILL" in warnings[0] and "onnx_int4" in warnings[0]
    assert "Traceback" not in done.stderr


def test_asking_for_llama_cpp_by_name_on_such_a_model_is_one_clear_error(models_dir: Path, tmp_path: Path,
                                                                         cli_env: dict[str, str]) -> None:
    artifacts = tmp_path / "artifacts"
    model = models_dir / TINY_FILE
    from edgemind.core.models.manifest import load_bundled_manifest

    sha = next(s.sha256 for s in load_bundled_manifest(models_dir) if s.id == "smollm2-135m-instruct")
    NativeGuard(artifacts / "native", runner=crashing({"*"})).check(model, model_key(sha, model))
    env = {**cli_env, "EDGEMIND_ARTIFACTS_DIR": str(artifacts), "EDGEMIND_ROUTER": "0"}
    done = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "ask", "hi", "--backend", "llama_cpp",
                           "--max-tokens", "4", "--no-cache"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("edgemind: error")]
    assert len(errors) == 1 and errors[0].startswith("edgemind: error: llama.cpp crashed") and "SIGILL" in errors[0]
    assert "--backend onnx_int4" in errors[0] and "Traceback" not in done.stderr


def test_a_multi_token_prompt_at_two_threads_runs_and_answers(models_dir: Path,
                                                              llama_cpp_for: Callable[[Path], ModuleType]) -> None:
    """The shape of the original failure (AMX code, SIGILL on any prompt longer than one token), in this process,
    with the variant the check chose: it must run, and its greedy answer must be the right one."""
    model = models_dir / TINY_FILE
    llama_cpp = llama_cpp_for(model)
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=256, n_threads=2, n_threads_batch=2, n_batch=64,
                          verbose=False)
    try:
        prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
        tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        assert len(tokens) > 8
        llm.eval(tokens)
        out = []
        for _ in range(12):
            row = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
            assert np.isfinite(row).all()
            token = int(np.argmax(row))
            out.append(token)
            llm.eval([token])
        assert "Paris" in llm.detokenize(out).decode("utf-8", "replace")
    finally:
        llm.close()


def test_the_check_child_reports_a_missing_model_as_data_not_a_crash(tmp_path: Path) -> None:
    done = run_child(child_command("smoke", "builtin", str(tmp_path / "nope.gguf"), "2"), 120)
    assert done.returncode == 1
    assert json.loads(done.stdout.strip().splitlines()[-1])["ok"] is False


def test_doctor_shows_cpu_features_the_variant_and_the_test_run(cli_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "doctor", "--json"], capture_output=True,
                          text=True, env=cli_env, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["hardware"]["cpu_features"] == list(cpu_features())
    llama = report["llama_cpp"]
    assert llama["variants"], llama
    tiny = [c for c in llama["checks"].values() if c["model"] == TINY_FILE]  # the default model in these tests
    assert tiny and tiny[0]["variant"] in {v["name"] for v in llama["variants"]}
    text = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "doctor"], capture_output=True, text=True,
                          env=cli_env, timeout=300).stdout
    assert "test run " + TINY_FILE in text and "features" in text


def test_a_gpu_backend_that_fails_its_test_run_leaves_the_model_on_the_cpu(models_dir: Path, tmp_path: Path) -> None:
    """The Windows build adds a Vulkan backend for iGPUs; a broken driver (here: a library that is no backend at
    all) must cost nothing but the attempt."""
    folder = lib_dir()
    assert folder is not None
    lib = tmp_path / "lib"
    shutil.copytree(folder, lib)
    (lib / ("ggml-vulkan.dll" if sys.platform == "win32" else "libggml-vulkan.so")).write_bytes(b"\x7fELF not really")
    model = models_dir / TINY_FILE
    guard = NativeGuard(tmp_path / "record", folder=lib)
    check = guard.check(model, model_key(None, model))
    assert check.variant is not None and check.gpu is None
    assert check.attempts[-1].variant == f"{check.variant}+vulkan" and not check.attempts[-1].ok
    assert guard.gpu_layers(model_key(None, model)) == 0


def test_a_new_model_the_variant_already_in_use_cannot_run_is_refused_in_one_line(
        models_dir: Path, tmp_path: Path, llama_cpp_for: Callable[[Path], ModuleType]) -> None:
    """ggml holds one CPU backend per process: a second model that crashes the loaded variant's test run must not be
    loaded with it anyway."""
    model = models_dir / TINY_FILE
    llama_cpp_for(model)  # this process now runs the variant chosen for the tiny model
    running = loaded_variant()
    assert running is not None
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(model, copy)
    guard = NativeGuard(tmp_path / "record", runner=crashing({running.name}))
    with pytest.raises(NativeCodeError) as caught:
        guard.variant_for(copy, model_key(None, copy))
    assert f"{running.name}: SIGILL: illegal instruction" in str(caught.value)
    assert loaded_variant() == running


def test_openmp_waits_passively_unless_the_user_chose_a_policy() -> None:
    from edgemind.core.backends.llama_native import set_openmp_defaults

    env: dict[str, str] = {}
    set_openmp_defaults(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "300000"}):
        env = dict(chosen)
        set_openmp_defaults(env)
        assert env == chosen


def test_the_check_child_runs_with_the_passive_policy(tmp_path: Path) -> None:
    """The policy must reach llama.cpp's own process environment before libgomp loads (it reads it only then)."""
    done = run_child([sys.executable, "-c", "import os; print(os.environ.get('OMP_WAIT_POLICY'))"], 30)
    expected = os.environ.get("OMP_WAIT_POLICY") or (None if os.environ.get("GOMP_SPINCOUNT") else "PASSIVE")
    assert done.stdout.strip() == str(expected)
