"""Which llama.cpp CPU code this process runs, chosen so that a crash of native code is never silent.

EdgeMind's set-up builds llama.cpp once per CPU family (`GGML_CPU_ALL_VARIANTS`: x64, haswell, skylakex, zen4,
sapphirerapids…, each a `ggml-cpu-<variant>` library) and picks one at run time. ggml picks by the CPU's feature bits
alone, and that is not enough: on a virtual machine that reports AMX, the sapphirerapids code dies with SIGILL on any
multi-token prompt. So before a model first runs on a machine, a child process evaluates a short multi-token prompt
with the best-scored variant; a crash there costs the child, never the user's process, and the next variant is tried.
The outcome is recorded (keyed by CPU, libraries and model) so it is checked once. When no variant runs a model,
the engine answers with `onnx_int4` instead. A build without variants (one `ggml-cpu` library) is checked the same
way, as the single variant `builtin`. This module never imports `llama_cpp` before a variant is chosen.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import ModelError
from ..hardware import cpu_features, cpu_name

log = logging.getLogger(__name__)

RECORD_FILE = "llama_native.json"
RECORD_VERSION = 1
SMOKE_TIMEOUT_S = 180.0
BUILTIN = "builtin"

# OpenMP's default wait policy spins a core while a thread waits for work: on a laptop that is never idle, a
# competing process then takes most of llama.cpp's share of the CPU (measured: decode at 31% of idle speed beside one
# busy process, 58% with PASSIVE). libgomp reads this when it is loaded, i.e. with the first ggml-cpu library, so it
# is set before that; a user's own setting wins. See benchmarks/native_cpu.py.
OMP_DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}


class NativeCodeError(ModelError):
    """llama.cpp's native code cannot run a model on this CPU (it crashed or hung in a checked child process)."""

    kind = "native_crash"


@dataclass(frozen=True, slots=True)
class Variant:
    """One build of llama.cpp's CPU code: `name` is ggml's (haswell, skylakex…) or `builtin`; `score` is ggml's
    own rank of it on this CPU (0: it needs instructions this CPU lacks)."""

    name: str
    path: Path | None
    score: int = 1


@dataclass(slots=True)
class Attempt:
    variant: str
    ok: bool
    reason: str = ""
    ms: float = 0.0


@dataclass(slots=True)
class ModelCheck:
    """What the smoke run found for one model on this machine and build."""

    variant: str | None  # the variant that ran it, or None: none did
    attempts: list[Attempt] = field(default_factory=list)
    checked_at: float = 0.0
    model: str = ""  # the file's name, for people reading `doctor`
    gpu: str | None = None  # a GPU backend (vulkan) that ran it too: layers are offloaded to it

    def failures(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.ok]


# ---- the build on disk --------------------------------------------------------------------------------------------

def lib_dir() -> Path | None:
    """llama-cpp-python's folder of native libraries, found without importing it (importing loads them)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def library_name(base: str) -> str:
    """The file name of one of llama.cpp's shared libraries (ggml, ggml-base) on this OS."""
    if sys.platform == "win32":
        return f"{base}.dll"
    return f"lib{base}.dylib" if sys.platform == "darwin" else f"lib{base}.so"


def variant_files(folder: Path) -> list[Path]:
    """The `ggml-cpu-<variant>` libraries of a GGML_CPU_ALL_VARIANTS build (empty for a build without them)."""
    prefix = "ggml-cpu-" if sys.platform == "win32" else "libggml-cpu-"
    suffix = ".dll" if sys.platform == "win32" else ".so"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix))


def gpu_files(folder: Path) -> list[Path]:
    """GPU backends built as their own libraries (the Windows build's `ggml-vulkan` for AMD/Intel iGPUs)."""
    names = {"ggml-vulkan.dll"} if sys.platform == "win32" else {"libggml-vulkan.so"}
    return sorted(p for p in folder.iterdir() if p.name in names) if folder.is_dir() else []


def gpu_name(path: Path) -> str:
    return path.name.split(".")[0].rsplit("-", 1)[-1]  # libggml-vulkan.so -> vulkan


def variant_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    return stem.split("ggml-cpu-", 1)[1]


def build_fingerprint(folder: Path) -> str:
    """Changes when the CPU, the OS or the llama.cpp build changes: each needs its own check."""
    h = hashlib.sha256()
    h.update(f"{cpu_name()}|{' '.join(cpu_features())}|{platform.platform()}".encode())
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


# ---- loading a variant into this process ---------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: Variant | None = None


def loaded_variant() -> Variant | None:
    """The CPU code this process runs llama.cpp with (None until a model or vocabulary was loaded)."""
    return _loaded


def set_openmp_defaults(env: Any = os.environ) -> None:
    """Our wait policy, unless the user chose one (either variable: GOMP_SPINCOUNT=300000 is libgomp's default)."""
    if not any(env.get(key) for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")):
        env.update(OMP_DEFAULTS)


def import_llama(variant: Variant | None) -> ModuleType:
    """`llama_cpp`, with `variant`'s CPU code registered in ggml (once per process: ggml's registry is global).

    A second call with another variant keeps the first: models already loaded use it, and ggml cannot hold two CPU
    backends. Callers that need a particular one check `loaded_variant()`.
    """
    global _loaded
    set_openmp_defaults()
    import llama_cpp

    with _lock:
        if _loaded is not None or variant is None:
            return llama_cpp
        if variant.path is not None and not _register(variant.path):
            raise ModelError(f"llama.cpp could not load its CPU code {variant.path.name}; run the set-up again")
        _loaded = variant
        log.info("llama.cpp runs its %s CPU code", variant.name)
    return llama_cpp


def loaded_ggml(folder: Path) -> ctypes.CDLL:
    """The libggml that libllama uses, so a backend registers where llama.cpp looks. A wheel cannot hold symlinks:
    lib/ has libggml.so, .so.0 and .so.0.x as separate copies, and dlopen of another copy would make a second,
    empty backend registry. On Linux the copy in use is read from the process's own memory map."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps", encoding="utf-8") as maps:
                for line in maps:
                    path = line.rstrip("\n").split(maxsplit=5)[-1]
                    if Path(path).name.startswith("libggml.so"):
                        return ctypes.CDLL(path)
        except OSError:
            pass
    return ctypes.CDLL(str(folder / library_name("ggml")))


_gpu_loaded: set[str] = set()


def import_gpu(path: Path) -> None:
    """Register a GPU backend beside the CPU code (after import_llama); llama.cpp offloads layers to it."""
    with _lock:
        if path.name in _gpu_loaded:
            return
        if not _register(path):
            raise ModelError(f"llama.cpp could not load its GPU backend {path.name}")
        _gpu_loaded.add(path.name)


def _register(path: Path) -> bool:
    """ggml_backend_load in the registry libllama uses; False when the library is no loadable backend."""
    from llama_cpp._utils import suppress_stdout_stderr

    ggml = loaded_ggml(path.parent)
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    with suppress_stdout_stderr(disable=False):  # ggml announces each load on stderr
        return bool(ggml.ggml_backend_load(str(path).encode()))


# ---- the child process --------------------------------------------------------------------------------------------

def child_command(*args: str) -> list[str]:
    """How to start our own check process, from a source checkout or from the frozen bundle."""
    if getattr(sys, "frozen", False):
        # the console program beside us: the windowed one has no stdout to report through
        console = Path(sys.executable).with_name("edgemind.exe" if sys.platform == "win32" else "edgemind")
        return [str(console if console.exists() else sys.executable), "--edgemind-native-check", *args]
    return [sys.executable, "-m", "edgemind.core.backends.llama_smoke", *args]


_WINDOWS_CRASHES = {0xC000001D: "illegal instruction", 0xC0000005: "access violation",
                    0xC0000409: "stack buffer overrun", 0xC00000FD: "stack overflow",
                    0xC0000096: "privileged instruction"}


def describe_exit(code: int) -> str:
    """A child's exit status as a person would say it (SIGILL, a Windows access violation…)."""
    unsigned = code & 0xFFFFFFFF
    if unsigned in _WINDOWS_CRASHES:
        return f"0x{unsigned:08X}: {_WINDOWS_CRASHES[unsigned]}"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        what = {"SIGILL": "illegal instruction", "SIGSEGV": "segmentation fault", "SIGBUS": "bus error",
                "SIGABRT": "abort", "SIGFPE": "arithmetic fault", "SIGKILL": "killed"}.get(name)
        return f"{name}: {what}" if what else name
    return f"exit status {code}"


Runner = Callable[[list[str], float], "subprocess.CompletedProcess[str]"]


def run_child(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    set_openmp_defaults(env)
    # no console window flashing up over the desktop app on Windows
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL, creationflags=flags)


def _last_json(out: str) -> dict[str, Any] | None:
    for line in reversed(out.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


# ---- the guard ----------------------------------------------------------------------------------------------------

class NativeGuard:
    """Chooses the CPU variant for this machine and checks each model once in a child process, with a record kept
    in `record_dir` (derived data: deleting it only repeats the checks)."""

    def __init__(self, record_dir: Path, *, folder: Path | None = None, threads: int = 2,
                 runner: Runner = run_child, timeout: float = SMOKE_TIMEOUT_S) -> None:
        self._record_path = record_dir / RECORD_FILE
        self._folder = folder if folder is not None else lib_dir()
        self._threads = max(2, threads)  # the original failure needed >1 thread and >1 token
        self._runner = runner
        self._timeout = timeout
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self._variants: list[Variant] | None = None
        self._memo: dict[str, ModelCheck] = {}

    # -- what the build offers
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = build_fingerprint(self._folder) if self._folder else "no-llama-cpp"
        return self._fingerprint

    def variants(self) -> list[Variant]:
        """Variants this CPU can run by ggml's scoring, best first (one `builtin` for a build without variants)."""
        if self._variants is not None:
            return self._variants
        if self._folder is None:
            raise ModelError("llama-cpp-python is not installed; run the set-up command again")
        files = variant_files(self._folder)
        if not files:
            self._variants = [Variant(BUILTIN, None)]
            return self._variants
        cached = self._read().get(self.fingerprint(), {}).get("variants")
        if cached is None:
            cached = self._score(files)
            self._update(lambda entry: entry.__setitem__("variants", cached))
        by_name = {variant_name(p): p for p in files}
        ranked = [Variant(v["name"], by_name[v["name"]], int(v["score"]))
                  for v in cached if v["name"] in by_name and int(v["score"]) > 0]
        self._variants = sorted(ranked, key=lambda v: -v.score)
        return self._variants

    def _score(self, files: list[Path]) -> list[dict[str, Any]]:
        """ggml's score of each variant, read in a child: loading a library built for other CPUs is the child's risk."""
        assert self._folder is not None
        try:
            done = self._runner(child_command("score", str(self._folder)), 60.0)
        except subprocess.TimeoutExpired:
            done = None
        found = _last_json(done.stdout) if done is not None and done.returncode == 0 else None
        if found is None:
            # Scoring itself failed: fall back to trying each variant, most capable first, in the smoke runs.
            why = describe_exit(done.returncode) if done is not None else "timed out"
            log.warning("could not rank llama.cpp's CPU variants (%s); trying each in turn", why)
            order = ["sapphirerapids", "zen4", "cooperlake", "icelake", "cascadelake", "cannonlake", "skylakex",
                     "alderlake", "haswell", "piledriver", "ivybridge", "sandybridge", "sse42", "x64"]
            return [{"name": variant_name(p), "score": len(order) - order.index(variant_name(p))
                     if variant_name(p) in order else 1} for p in files]
        return [{"name": str(v["name"]), "score": int(v["score"])} for v in found.get("variants", [])]

    # -- one model
    def check(self, model_path: Path, model_key: str) -> ModelCheck:
        """The variant that runs this model here, from the record or by trying (one child per variant tried)."""
        with self._lock:
            known = self._known(model_key)
            if known is not None:
                return known
            candidates = self.variants()
            attempts: list[Attempt] = []
            chosen: str | None = None
            for variant in candidates:
                attempt = self._smoke(variant, model_path)
                attempts.append(attempt)
                if attempt.ok:
                    chosen = variant.name
                    break
                log.warning("llama.cpp's %s CPU code failed a test run of %s on this CPU (%s)",
                            variant.name, model_path.name, attempt.reason)
            gpu = None
            if chosen is not None and self._folder is not None:
                variant = next(v for v in candidates if v.name == chosen)
                for lib in gpu_files(self._folder):
                    # a GPU driver can crash too (or find no device): only a clean test run turns offload on
                    attempt = self._smoke(variant, model_path, gpu=lib)
                    attempts.append(attempt)
                    if attempt.ok:
                        gpu = gpu_name(lib)
                        break
            result = ModelCheck(chosen, attempts, time.time(), model_path.name, gpu)
            self._record(model_key, result)
            return result

    def _known(self, model_key: str) -> ModelCheck | None:
        known = self._memo.get(model_key) or self.recorded(model_key)
        if known is not None:
            self._memo[model_key] = known
        return known

    def _record(self, model_key: str, check: ModelCheck) -> None:
        self._memo[model_key] = check
        self._update(lambda entry: entry.setdefault("models", {}).__setitem__(model_key, _check_json(check)))

    def recorded(self, model_key: str) -> ModelCheck | None:
        row = self._read().get(self.fingerprint(), {}).get("models", {}).get(model_key)
        if not isinstance(row, dict):
            return None
        try:
            return ModelCheck(row.get("variant"), [Attempt(**a) for a in row.get("attempts", [])],
                              float(row.get("checked_at", 0)), str(row.get("model", "")), row.get("gpu"))
        except TypeError:
            return None  # a record from another version: check again

    def variant_for(self, model_path: Path, model_key: str) -> Variant:
        """Check (once) and load the variant that runs this model; NativeCodeError when none does."""
        check = self.check(model_path, model_key)
        if check.variant is None:
            raise NativeCodeError(failure_line(model_path.name, check))
        loaded = loaded_variant()
        if loaded is not None and loaded.name != check.variant:
            # This process already runs another variant (chosen for an earlier model): it must run this one too.
            if self._also_runs(loaded, model_path, model_key, check):
                return loaded
            raise NativeCodeError(failure_line(model_path.name, check, running=loaded.name))
        variant = next((v for v in self.variants() if v.name == check.variant), None)
        if variant is None:
            raise NativeCodeError(f"llama.cpp's {check.variant} CPU code is gone from {self._folder}; run the set-up "
                                  "command again")
        import_llama(variant)
        if check.gpu and self._folder is not None:
            for lib in gpu_files(self._folder):
                if gpu_name(lib) == check.gpu:
                    import_gpu(lib)
        return variant

    def _also_runs(self, variant: Variant, model_path: Path, model_key: str, check: ModelCheck) -> bool:
        tried = next((a for a in check.attempts if a.variant == variant.name), None)
        if tried is None:
            with self._lock:
                tried = self._smoke(variant, model_path)
                check.attempts.append(tried)
                self._record(model_key, check)
        return tried.ok

    def gpu_layers(self, model_key: str) -> int:
        """Layers to offload: all (-1) when a GPU backend passed this model's test run, else none."""
        check = self._known(model_key)
        return -1 if check is not None and check.gpu else 0

    def vocabulary_variant(self, model_path: Path, model_key: str) -> Variant:
        """A variant for reading a model's vocabulary, which runs no kernels: the loaded one, else the one its check
        chose (so a later llama.cpp load in this process finds the right one), else the least demanding."""
        loaded = loaded_variant()
        if loaded is not None:
            return loaded
        try:
            return self.variant_for(model_path, model_key)
        except NativeCodeError:
            variant = self.variants()[-1]
            import_llama(variant)
            return variant

    def _smoke(self, variant: Variant, model_path: Path, gpu: Path | None = None) -> Attempt:
        started = time.perf_counter()
        cmd = child_command("smoke", str(variant.path) if variant.path else BUILTIN, str(model_path),
                            str(self._threads), *([str(gpu)] if gpu else []))
        name = f"{variant.name}+{gpu_name(gpu)}" if gpu else variant.name
        try:
            done = self._runner(cmd, self._timeout)
        except subprocess.TimeoutExpired:
            return Attempt(name, False, f"no answer within {self._timeout:.0f} s",
                           (time.perf_counter() - started) * 1000)
        ms = (time.perf_counter() - started) * 1000
        result = _last_json(done.stdout)
        if done.returncode == 0 and result is not None and result.get("ok"):
            return Attempt(name, True, "", round(ms, 1))
        if done.returncode == 0 or result is not None and "error" in result:
            reason = str((result or {}).get("error") or "the test run printed no result")
        else:
            reason = describe_exit(done.returncode)
        return Attempt(name, False, reason, round(ms, 1))

    # -- the record
    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self._record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return {}
        return data.get("builds", {}) if isinstance(data.get("builds"), dict) else {}

    def _update(self, change: Callable[[dict[str, Any]], None]) -> None:
        builds = self._read()
        entry = builds.setdefault(self.fingerprint(), {})
        entry["cpu"] = cpu_name()
        entry["features"] = list(cpu_features())
        change(entry)
        try:
            self._record_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._record_path.with_name(f"{self._record_path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": RECORD_VERSION, "builds": builds}, indent=1), encoding="utf-8")
            os.replace(tmp, self._record_path)
        except OSError as exc:
            log.warning("could not record the llama.cpp check in %s (%s); it will run again", self._record_path, exc)

    def report(self) -> dict[str, Any]:
        """For `doctor`: the build, the variants this CPU can run, the one in use, and each model's check."""
        entry = self._read().get(self.fingerprint(), {})
        try:
            variants = [{"name": v.name, "score": v.score} for v in self.variants()]
        except ModelError as exc:
            return {"error": str(exc)}
        loaded = loaded_variant()
        dispatch = "single build" if variants[0]["name"] == BUILTIN else "runtime"
        return {"lib_dir": str(self._folder), "dispatch": dispatch,
                "variants": variants, "loaded": loaded.name if loaded else None,
                "checks": entry.get("models", {})}


def model_key(sha256: str | None, path: Path) -> str:
    """What a check is recorded under: the pinned hash when there is one (copies share it), else the file itself."""
    if sha256:
        return f"sha256:{sha256}"
    st = path.stat()
    return f"file:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _check_json(check: ModelCheck) -> dict[str, Any]:
    return {"variant": check.variant, "gpu": check.gpu, "model": check.model,
            "attempts": [asdict(a) for a in check.attempts], "checked_at": check.checked_at}


FALLING_BACK = "answering with onnx_int4 instead (run the set-up command again to rebuild llama.cpp)"
WHAT_TO_DO = ("use --backend onnx_int4 or set local_backend = \"onnx_int4\" (run the set-up command again to rebuild "
              "llama.cpp)")


def failure_line(model: str, check: ModelCheck, running: str | None = None, then: str = WHAT_TO_DO) -> str:
    """One line: what failed, on which CPU features, what to do."""
    tried = "; ".join(f"{a.variant}: {a.reason}" for a in check.failures()) or "no variant"
    features = " ".join(cpu_features()) or "unknown features"
    if running:
        head = (f"llama.cpp's {running} CPU code, already in use by this process, failed a test run of {model} "
                f"({tried})")
    else:
        head = f"llama.cpp crashed in a test run of {model} on this CPU ({tried})"
    return f"{head}; CPU: {cpu_name()} [{features}]; {then}"
