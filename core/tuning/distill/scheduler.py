"""Background distillation in mini-epochs: one runs only while the machine is on AC power and otherwise idle, pauses
as soon as that stops (the work checkpoints and resumes next time), and a stop() ends it for good.

Time and the machine's state come in as functions (clock, sleep, probes), so the policy is tested with plain values;
`psutil_probes()` are the real ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import psutil

log = logging.getLogger(__name__)

STATES = ("waiting", "running", "paused", "done", "stopped", "error")


@dataclass(frozen=True, slots=True)
class Probes:
    """on_ac: running on mains power (True on a machine with no battery); other_cpu_percent: how busy the CPUs are
    with work other than this process's, 0-100."""

    on_ac: Callable[[], bool]
    other_cpu_percent: Callable[[], float]


def psutil_probes() -> Probes:
    """The machine's real state through psutil. Our own training is subtracted from the CPU load, or a running
    mini-epoch would always look like the user's work."""
    me = psutil.Process()
    cores = psutil.cpu_count() or 1
    psutil.cpu_percent(None)  # the first reading of each counter is meaningless: prime them
    me.cpu_percent(None)

    def on_ac() -> bool:
        battery = psutil.sensors_battery()
        return True if battery is None else bool(battery.power_plugged)

    def other_cpu_percent() -> float:
        total = psutil.cpu_percent(None)
        mine = me.cpu_percent(None) / cores
        return max(0.0, total - mine)

    return Probes(on_ac, other_cpu_percent)


@dataclass(frozen=True, slots=True)
class EpochResult:
    """What one mini-epoch did: `done` when nothing is left to do."""

    done: bool
    step: int
    evaluation: dict[str, Any] | None = None


# runs until it is done or `should_pause()` turns true, then checkpoints and returns
MiniEpoch = Callable[[Callable[[], bool]], EpochResult]


@dataclass(frozen=True, slots=True)
class DistillStatus:
    """What the GUI shows: state (one of STATES), steps done, the newest evaluation, and why it waits or stopped."""

    state: str = "waiting"
    step: int = 0
    epochs: int = 0
    last_evaluation: dict[str, Any] | None = None
    reason: str = ""
    history: tuple[str, ...] = field(default=())  # state changes, newest last (bounded)


@dataclass(frozen=True, slots=True)
class Policy:
    max_other_cpu_percent: float = 25.0  # above this the machine is in use
    idle_for_s: float = 120.0  # how long it must have been idle before a mini-epoch starts
    poll_s: float = 15.0  # how often the machine is looked at while waiting
    check_every_s: float = 2.0  # how often a running mini-epoch asks whether to pause


class BackgroundDistiller:
    """Runs mini-epochs when allowed until the work is done or stop() is called. Thread-safe status for the GUI."""

    def __init__(self, epoch: MiniEpoch, probes: Probes, policy: Policy = Policy(),
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None) -> None:
        self._epoch = epoch
        self._probes = probes
        self._policy = policy
        self._clock = clock
        self._stop = threading.Event()
        self._sleep = sleep or (lambda s: self._stop.wait(s))
        self._lock = threading.Lock()
        self._status = DistillStatus()
        self._idle_since: float | None = None
        self._last_check = -float("inf")
        self._last_verdict = True

    @property
    def status(self) -> DistillStatus:
        with self._lock:
            return self._status

    def stop(self) -> None:
        """End it: a running mini-epoch pauses at its next check (its checkpoint is kept) and no other starts."""
        self._stop.set()

    def _set(self, **changes: Any) -> None:
        with self._lock:
            old = self._status
            new = replace(old, **changes)
            # the idle countdown changes at every poll: only what a user would want to read back is kept
            if new.state != old.state or (new.reason != old.reason and not new.reason.startswith("idle for")):
                new = replace(new, history=(old.history + (f"{new.state}: {new.reason}",))[-50:])
                log.info("distillation %s (%s)", new.state, new.reason)
            self._status = new

    def machine_free(self) -> tuple[bool, str]:
        """Whether the machine may be used now, and why not."""
        if not self._probes.on_ac():
            return False, "on battery"
        busy = self._probes.other_cpu_percent()
        if busy > self._policy.max_other_cpu_percent:
            return False, f"the computer is in use ({busy:.0f}% CPU)"
        return True, "idle on AC power"

    def ready(self) -> tuple[bool, str]:
        """Free now and free for the whole idle period (the clock restarts at any use)."""
        free, why = self.machine_free()
        now = self._clock()
        if not free:
            self._idle_since = None
            return False, why
        if self._idle_since is None:
            self._idle_since = now
        waited = now - self._idle_since
        if waited < self._policy.idle_for_s:
            return False, f"idle for {waited:.0f} s of {self._policy.idle_for_s:.0f} s"
        return True, why

    def _should_pause(self) -> bool:
        if self._stop.is_set():
            return True
        now = self._clock()
        if now - self._last_check >= self._policy.check_every_s:
            self._last_check = now
            self._last_verdict, why = self.machine_free()
            if not self._last_verdict:
                self._set(reason=why)
        return not self._last_verdict

    def run(self) -> DistillStatus:
        """Block until done or stopped (run it in a worker thread); the final status."""
        while not self._stop.is_set():
            ok, why = self.ready()
            if not ok:
                self._set(state="paused" if self.status.epochs else "waiting", reason=why)
                self._sleep(self._policy.poll_s)
                continue
            self._set(state="running", reason=why)
            self._last_check, self._last_verdict = self._clock(), True
            try:
                result = self._epoch(self._should_pause)
            except Exception as exc:  # a failed epoch is shown, not raised into the GUI's thread
                self._set(state="error", reason=f"{type(exc).__name__}: {exc}"[:300])
                return self.status
            self._set(step=result.step, epochs=self.status.epochs + 1,
                      last_evaluation=result.evaluation or self.status.last_evaluation)
            if result.done:
                self._set(state="done", reason="finished")
                return self.status
            self._idle_since = None  # paused by use: wait for a fresh idle period
        self._set(state="stopped", reason="stopped by the user")
        return self.status
