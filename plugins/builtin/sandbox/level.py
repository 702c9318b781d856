"""Which isolation a code run gets on this machine, named, so the runner, `doctor` and the permission dialog can
say it. Never claims more than was verified on this machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IsolationLevel:
    """A named level: `namespaces`, `bwrap` and `sandbox-exec` hide the host; the others only limit the run."""

    name: str  # "namespaces" | "bwrap" | "job object" | "sandbox-exec" | "process only"
    hides_host: bool  # the snippet sees no host files, processes or network beyond what `detail` lists
    detail: str

    @property
    def weaker(self) -> bool:
        """True where the snippet could read the user's files: the dialog and doctor must say so."""
        return not self.hides_host

    def describe(self) -> str:
        warning = "WEAKER ISOLATION: the code can read what your user can read; " if self.weaker else ""
        return f"{self.name} ({warning}{self.detail})"

    def grant_text(self) -> str:
        """What the permission dialog says a code.exec grant allows, at this level."""
        if self.weaker:
            return (f"run code in a sandboxed process with WEAKER isolation ({self.name}): it can read and change "
                    "what your user can, including EdgeMind's data folder")
        return f"run code in a sandboxed process (isolation: {self.name})"
