"""Our native low-bit kernels: T-MAC lookup-table GEMV/GEMM over 1-, 2- and 4-bit (and ternary) weights.

The C extension `_lut` is optional (setup.py builds it where a compiler exists; a failed build never fails the
install), so everything here works out whether it is there: `available()`, and `why_unavailable()` in one line for
`edgemind doctor`. layout.py (the weight format, exact converters from GGUF) and reference.py (numpy) need no build.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from .build_id import source_digest

_REBUILD = "pip install -e . or python bootstrap.py"
_lut: ModuleType | None
try:
    from . import _lut
    _WHY: str | None = None
except ImportError as exc:  # not built here (no compiler at install time) or built for another Python
    _lut = None
    _WHY = (f"the T-MAC kernels are not built ({exc}); reinstall EdgeMind with a C compiler present "
            f"({_REBUILD}) to build them")


def stale_build(built: str | None, sources: str | None) -> str | None:
    """One line when the compiled module was built from other sources than those beside it, else None (also when
    the sources are not there to compare, as in an installed wheel)."""
    if sources is None or built == sources:
        return None
    return (f"the T-MAC kernels were built from other sources (built {built or 'before digests'}, sources now "
            f"{sources}); rebuild them ({_REBUILD})")


if _lut is not None:
    _WHY = stale_build(getattr(_lut, "source_digest", None), source_digest(Path(__file__).resolve().parent))
    if _WHY is not None:
        _lut = None


def available() -> bool:
    """Whether the compiled kernels can be used in this process."""
    return _lut is not None


def why_unavailable() -> str | None:
    """None when available(), else one line saying why and what to do."""
    return _WHY


def native() -> ModuleType:
    """The compiled module, or RuntimeError with why_unavailable()'s line."""
    if _lut is None:
        raise RuntimeError(_WHY)
    return _lut


def isas() -> list[str]:
    """Instruction-set paths this CPU and build can run (scalar always), slowest first; [] when not built."""
    return list(_lut.isas()) if _lut is not None else []


def selected_isa() -> str | None:
    """The path calls take now: EDGEMIND_TMAC_ISA if set, else the default (NEON on ARM, AVX2 on x86 where present:
    measured as fast as AVX-512 or faster, see _lut.c best_isa()); None when not built."""
    return str(_lut.selected_isa()) if _lut is not None else None


def status() -> dict[str, object]:
    """What `edgemind doctor` reports: built or not (and why), the paths this CPU offers, the one calls take."""
    if _lut is None:
        return {"available": False, "isas": [], "selected": None, "error": _WHY}
    try:
        selected: str | None = selected_isa()
        problem = None
    except ValueError as exc:  # EDGEMIND_TMAC_ISA names a path this CPU lacks
        selected, problem = None, str(exc)
    out: dict[str, object] = {"available": True, "isas": isas(), "selected": selected}
    if problem:
        out["error"] = problem
    return out


def status_line(s: dict[str, object]) -> str:
    """status() in one line: 'avx512 (this CPU: scalar, avx2, avx512)' or 'NOT BUILT: <why>'."""
    if not s["available"]:
        return f"NOT BUILT: {s['error']}"
    offered = ", ".join(str(i) for i in s["isas"]) if isinstance(s["isas"], list) else "?"
    return f"{s['selected'] or 'ERROR: ' + str(s.get('error'))} (this CPU: {offered})"
