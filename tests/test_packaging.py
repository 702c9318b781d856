"""The built wheel holds every module of the product: a new subpackage can never be left out of an install.

setup.py finds the packages under the layer folders; this builds a real wheel from the tracked files (never from a
stale `build/` folder) and imports every module from it, with the editable install's finder out of the way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("app", "core", "plugins", "kernels", "resources")

# Run first by each child below: the editable install maps edgemind.* onto the source tree, so drop its finder and
# path hooks and put the unpacked wheel (argv[1]) first; only the wheel counts.
WHEEL_ONLY = r"""
import importlib, json, sys
wheel_dir = sys.argv[1]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
sys.path = [p for p in sys.path if "__editable__" not in p]
sys.path.insert(0, wheel_dir)
sys.path_importer_cache.clear()
"""

IMPORT_ALL = WHEEL_ONLY + r"""
failed, outside = {}, []
for name in json.loads(sys.argv[2]):
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
        continue
    if not str(getattr(module, "__file__", "") or "").startswith(wheel_dir):
        outside.append(f"{name} from {getattr(module, '__file__', None)}")
print(json.dumps({"failed": failed, "outside": outside}))
"""


def source_modules() -> list[str]:
    """Every importable module under the layer folders, as `edgemind.*` names."""
    names = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__main__" or "versions" in parts or parts[-2:] == ["migrations", "env"]:
                continue  # run as scripts or by Alembic, not imported
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append("edgemind." + ".".join(parts))
    return names


@pytest.fixture(scope="module")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    if tracked.returncode != 0 or not tracked.stdout:
        pytest.skip("not a git checkout: the wheel is built from the tracked files")
    src = tmp_path_factory.mktemp("src")
    for name in tracked.stdout.split("\0"):
        if name and (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(out), str(src)], check=True, capture_output=True, text=True)
    (wheel,) = out.glob("edgemind-*.whl")
    unpacked = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    return unpacked


def test_the_wheel_holds_every_source_module(wheel_dir: Path) -> None:
    in_wheel = {".".join(p.relative_to(wheel_dir).with_suffix("").parts) for p in wheel_dir.rglob("*.py")}
    in_wheel |= {name.removesuffix(".__init__") for name in in_wheel}
    missing = [name for name in source_modules() if name not in in_wheel]
    assert not missing, f"modules missing from the wheel: {missing}"


def test_every_module_imports_from_the_wheel(wheel_dir: Path) -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL, str(wheel_dir), json.dumps(source_modules())],
                          capture_output=True, text=True, timeout=600, env={"QT_QPA_PLATFORM": "offscreen",
                                                                             "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["failed"], result["failed"]
    assert not result["outside"], result["outside"]


def test_the_wheel_ships_its_data_files(wheel_dir: Path) -> None:
    resources = wheel_dir / "edgemind" / "resources"
    for name in ("models.json", "router_policy.toml", "safety_policy.toml", "router_train.jsonl"):
        assert (resources / name).is_file(), f"{name} missing from the wheel"
    assert (wheel_dir / "edgemind" / "core" / "storage" / "migrations" / "script.py.mako").is_file()


CHECK_TMAC = WHEEL_ONLY + r"""
from edgemind.kernels import tmac
print(json.dumps({"available": tmac.available(), "why": tmac.why_unavailable(),
                  "file": getattr(tmac._lut, "__file__", None)}))
"""


def test_the_wheel_carries_the_built_tmac_kernels(wheel_dir: Path) -> None:
    """The C extension is optional for users, not for CI: on Linux with a compiler the wheel must hold it built, so
    a broken build cannot hide behind the kernel tests' skips."""
    import shutil

    if not sys.platform.startswith("linux") or not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler here: the extension is optional")
    built = list((wheel_dir / "edgemind" / "kernels" / "tmac").glob("_lut*.so"))
    assert built, "the wheel has no edgemind/kernels/tmac/_lut*.so: the optional extension failed to build"
    done = subprocess.run([sys.executable, "-c", CHECK_TMAC, str(wheel_dir)], capture_output=True, text=True,
                          check=True)
    found = json.loads(done.stdout)
    assert found["available"], found["why"]
    assert str(found["file"]).startswith(str(wheel_dir))
