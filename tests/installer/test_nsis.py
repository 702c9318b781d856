"""The Windows installer script, its signing hook and the Windows dependency lock, checked on Linux.

makensis (Debian's `nsis`) compiles installer/edgemind.nsi here against a fake bundle; running the installer needs Wine.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "installer" / "edgemind.nsi"
LOCK = ROOT / "installer" / "requirements-windows.txt"
WORKFLOW = ROOT / ".github" / "workflows" / "windows.yml"
MODEL_FILES = ("smollm2-135m-instruct-q4_1.gguf", "qwen2.5-coder-0.5b-instruct.gguf", "all-minilm-l6-v2.zip")

needs_makensis = pytest.mark.skipif(shutil.which("makensis") is None,
                                    reason="makensis is not installed (Debian: apt-get install nsis)")


def fake_bundle(root: Path, *, gui: bool = True) -> tuple[Path, Path]:
    """A few-byte stand-in for dist/EdgeMind and dist/models, with the names the script expects."""
    bundle, models = root / "EdgeMind", root / "models"
    (bundle / "_internal" / "llama_cpp" / "lib").mkdir(parents=True)
    (bundle / "edgemind.exe").write_bytes(b"MZ console")
    if gui:
        (bundle / "edgemind-gui.exe").write_bytes(b"MZ windowed")
    (bundle / "_internal" / "python311.dll").write_bytes(b"MZ python")
    (bundle / "_internal" / "llama_cpp" / "lib" / "ggml-base.dll").write_bytes(b"MZ ggml")
    models.mkdir()
    sums = []
    for name in MODEL_FILES:
        data = f"fake {name}".encode()
        (models / name).write_bytes(data)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    (models / "SHA256SUMS").write_text("".join(sums), encoding="ascii")
    return bundle, models


def makensis(bundle: Path, models: Path, outfile: Path, *defines: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    outfile.parent.mkdir(parents=True, exist_ok=True)
    # -WX: a warning (an unused variable, an insecure file name…) fails the compile too
    command = ["makensis", "-V2", "-WX", "-DVERSION=0.1.0", f"-DBUNDLE_DIR={bundle}", f"-DMODELS_DIR={models}",
               f"-DOUTFILE={outfile}", *defines, str(SCRIPT)]
    return subprocess.run(command, capture_output=True, text=True, timeout=20, env=env)


@needs_makensis
@pytest.mark.timeout(20)
def test_installer_script_compiles_to_a_windows_executable(tmp_path: Path) -> None:
    bundle, models = fake_bundle(tmp_path)
    outfile = tmp_path / "out" / "EdgeMind-0.1.0-setup.exe"
    result = makensis(bundle, models, outfile)
    assert result.returncode == 0, result.stdout + result.stderr
    data = outfile.read_bytes()
    assert data[:2] == b"MZ"
    pe_offset = int.from_bytes(data[0x3C:0x40], "little")
    assert data[pe_offset:pe_offset + 4] == b"PE\0\0"
    # version info from VERSION, for Explorer's Details tab and Apps & features
    assert "0.1.0".encode("utf-16-le") in data and "EdgeMind".encode("utf-16-le") in data


@needs_makensis
@pytest.mark.timeout(20)
def test_installer_script_refuses_a_bundle_without_the_desktop_app(tmp_path: Path) -> None:
    bundle, models = fake_bundle(tmp_path, gui=False)
    result = makensis(bundle, models, tmp_path / "out" / "EdgeMind-0.1.0-setup.exe")
    assert result.returncode != 0
    assert "has no edgemind-gui.exe" in result.stdout + result.stderr


@needs_makensis
@pytest.mark.skipif(shutil.which("osslsigncode") is None or shutil.which("openssl") is None,
                    reason="osslsigncode and openssl are needed to sign with a throwaway certificate")
@pytest.mark.timeout(60)
def test_signing_hook_signs_the_uninstaller_and_the_installer(tmp_path: Path) -> None:
    key, cert, pfx = tmp_path / "key.pem", tmp_path / "cert.pem", tmp_path / "test.pfx"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=EdgeMind test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(pfx),
                    "-passout", "pass:test"], check=True, capture_output=True, timeout=30)
    bundle, models = fake_bundle(tmp_path)
    outfile = tmp_path / "out" / "signed-setup.exe"
    env = dict(os.environ, EDGEMIND_SIGN_CERT=str(pfx), EDGEMIND_SIGN_PASSWORD="test")
    env.pop("EDGEMIND_SIGN_TIMESTAMP_URL", None)
    sign = f'-DSIGN_CMD={sys.executable} {ROOT / "installer" / "sign"} "%1"'
    result = makensis(bundle, models, outfile, sign, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("sign: signed") == 2  # the uninstaller, then the installer
    signature = tmp_path / "sig.der"
    extracted = subprocess.run(["osslsigncode", "extract-signature", "-in", str(outfile), "-out", str(signature)],
                               capture_output=True, text=True, timeout=30)
    assert extracted.returncode == 0, extracted.stdout + extracted.stderr
    assert signature.stat().st_size > 500


def test_sign_leaves_the_file_alone_without_a_certificate(tmp_path: Path) -> None:
    target = tmp_path / "edgemind-gui.exe"
    target.write_bytes(b"MZ not signed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMIND_SIGN_")}
    result = subprocess.run([sys.executable, str(ROOT / "installer" / "sign"), str(target)],
                            capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 0
    assert "left unsigned" in result.stdout
    assert target.read_bytes() == b"MZ not signed"


def lock_requirements() -> list[str]:
    """The lock's requirement lines: no comments, annotations, blank lines or pip options."""
    lines = [line.split(" #", 1)[0].strip() for line in LOCK.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def test_windows_lock_uses_directml_onnxruntime_and_pins_every_package() -> None:
    requirements = lock_requirements()
    assert len(requirements) > 50
    unpinned = [line for line in requirements if not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!_-]+", line)]
    assert unpinned == []
    names = {line.split("==")[0].lower() for line in requirements}
    assert "onnxruntime-directml" in names
    assert not any(line.lower().startswith("onnxruntime==") for line in requirements)
    assert "pyinstaller" in names


def test_windows_lock_allows_a_source_build_only_for_llama_cpp_python() -> None:
    options = [line.strip() for line in LOCK.read_text(encoding="utf-8").splitlines() if line.startswith("--")]
    assert "--only-binary :all:" in options
    assert [o for o in options if o.startswith("--no-binary")] == ["--no-binary llama-cpp-python"]


def test_the_lock_the_workflow_and_bootstrap_name_one_llama_cpp_python() -> None:
    import bootstrap

    pinned = {line.split("==")[0].lower(): line.split("==")[1] for line in lock_requirements()}
    named = re.search(r'LLAMA_CPP_PYTHON_VERSION:\s*"([^"]+)"', WORKFLOW.read_text(encoding="utf-8"))
    assert named is not None
    assert pinned["llama-cpp-python"] == named.group(1) == bootstrap.LLAMA_CPP_PYTHON


def windows_path(path: Path, env: dict[str, str]) -> str:
    return subprocess.run(["winepath", "-w", str(path)], capture_output=True, text=True, check=True, env=env,
                          timeout=60).stdout.strip()


@needs_makensis
@pytest.mark.skipif(shutil.which("wine") is None or shutil.which("winepath") is None, reason="Wine is not installed")
@pytest.mark.timeout(600)
def test_silent_uninstall_keeps_the_models_folder(tmp_path: Path) -> None:
    # Runs here with Debian's wine64 (the installer is a 64-bit NSIS build, so no 32-bit Wine is needed).
    bundle, models = fake_bundle(tmp_path / "src")
    installer = tmp_path / "out" / "EdgeMind-0.1.0-setup.exe"
    assert makensis(bundle, models, installer).returncode == 0
    env = dict(os.environ, WINEPREFIX=str(tmp_path / "prefix"), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")

    def wine(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["wine", *args], env=env, capture_output=True, text=True, timeout=300)
        # let this step's wineserver write the registry and exit before the next step starts its own: a step that
        # raced a server still shutting down lost the Windows version below, and the installer then refused (exit 2)
        subprocess.run(["wineserver", "-w"], env=env, capture_output=True, timeout=300)
        return result

    subprocess.run(["wineboot", "--init"], env=env, capture_output=True, timeout=300)
    subprocess.run(["wineserver", "-w"], env=env, capture_output=True, timeout=300)
    # a new prefix says Windows 7, and the installer rightly refuses anything older than Windows 10
    wine("reg", "add", r"HKCU\Software\Wine", "/v", "Version", "/d", "win10", "/f")
    version = wine("reg", "query", r"HKCU\Software\Wine", "/v", "Version")
    assert "win10" in version.stdout, f"could not set the Wine prefix to Windows 10: {version.stdout}{version.stderr}"

    install_dir, models_dir = tmp_path / "program", tmp_path / "my models"
    win_install, win_models = windows_path(install_dir, env), windows_path(models_dir, env)
    # /D= must come last; the installer waits, the uninstaller does too when run in place with _?=
    assert wine(str(installer), "/S", f"/MODELSDIR={win_models}", f"/D={win_install}").returncode == 0
    assert (install_dir / "edgemind.exe").is_file()
    assert (models_dir / "SHA256SUMS").is_file()
    settings = next((tmp_path / "prefix" / "drive_c" / "users").glob("*/AppData/Local/EdgeMind/settings.toml"))
    assert tomllib.loads(settings.read_text(encoding="utf-8"))["models_dir"] == win_models

    assert wine(str(install_dir / "uninstall.exe"), "/S", f"_?={win_install}").returncode == 0
    assert not (install_dir / "_internal").exists()
    assert all((models_dir / name).is_file() for name in MODEL_FILES)
    assert settings.is_file()  # without /REMOVEDATA the data folder is kept too
