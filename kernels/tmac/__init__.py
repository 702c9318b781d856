"""Our native low-bit kernels: T-MAC lookup-table GEMV/GEMM over 1-, 2- and 4-bit (and ternary) weights.

The C extension `_lut` is optional (setup.py builds it where a compiler exists; a failed build never fails the
install), so everything here works out whether it is there: `available()`, and `why_unavailable()` in one line for
`edgemind doctor`. layout.py (the weight format, exact converters from GGUF) and reference.py (numpy) need no build.
"""

from __future__ import annotations

from types import ModuleType

_lut: ModuleType | None
try:
    from . import _lut
    _WHY: str | None = None
except ImportError as exc:  # not built here (no compiler at install time) or built for another Python
    _lut = None
    _WHY = (f"the T-MAC kernels are not built ({exc}); reinstall EdgeMind with a C compiler present "
            "(pip install -e . or python bootstrap.py) to build them")


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
    """The path calls take now: EDGEMIND_TMAC_ISA if set, else the fastest in isas(); None when not built."""
    return str(_lut.selected_isa()) if _lut is not None else None
