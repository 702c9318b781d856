"""Package discovery, the one thing pyproject.toml cannot say: the layer folders sit at the top of the repository and
are imported as `edgemind.<folder>`, so every package under them is found and prefixed here. A new subpackage can
never be missing from a built wheel (tests/test_packaging.py builds one and imports every module from it).

Also the optional C extension edgemind.kernels.tmac._lut (T-MAC lookup-table kernels): `optional=True`, so a machine
without a compiler still installs EdgeMind (edgemind.kernels.tmac.why_unavailable() and `edgemind doctor` say so).
Portable flags only: no -march=native; the AVX2/AVX-512 paths carry their own target attributes and are picked at
run time. -ffp-contract=off keeps a*b+c unfused so the activation tables match the numpy reference bit for bit.
"""

import importlib.util
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

LAYERS = ("app", "core", "plugins", "kernels", "resources")


def tmac_source_digest() -> str:
    """kernels/tmac/build_id.py's digest of the sources, compiled into the module (loaded by path: nothing of
    EdgeMind's is importable before it is installed)."""
    folder = Path(__file__).resolve().parent / "kernels" / "tmac"
    spec = importlib.util.spec_from_file_location("tmac_build_id", folder / "build_id.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.source_digest(folder) or "unknown"


class PortableBuildExt(build_ext):
    """Per-compiler flags (MSVC takes none of GCC's)."""

    def build_extensions(self) -> None:
        msvc = self.compiler.compiler_type == "msvc"
        for ext in self.extensions:
            ext.extra_compile_args = ["/O2", "/fp:precise"] if msvc else ["-O3", "-ffp-contract=off", "-pthread"]
            ext.extra_link_args = [] if msvc else ["-pthread"]
        super().build_extensions()


setup(
    package_dir={f"edgemind.{layer}": layer for layer in LAYERS},
    packages=[f"edgemind.{name}" for name in find_packages(include=[*LAYERS, *(f"{layer}.*" for layer in LAYERS)])],
    ext_modules=[Extension("edgemind.kernels.tmac._lut", sources=["kernels/tmac/_lut.c"],
                           depends=["kernels/tmac/_decoder.c", "kernels/tmac/build_id.py"],
                           define_macros=[("TMAC_SOURCE_DIGEST", f'"{tmac_source_digest()}"')], optional=True)],
    cmdclass={"build_ext": PortableBuildExt},
)
