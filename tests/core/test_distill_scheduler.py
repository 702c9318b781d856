"""The background policy: a mini-epoch only while on AC power and idle for the whole wait, paused at the first use,
resumed after a fresh idle period, stopped for good by stop(). The clock and the machine's state are plain values;
the real psutil probes are checked once for shape."""

from __future__ import annotations

import threading
from collections.abc import Callable

from edgemind.core.tuning.distill.scheduler import (BackgroundDistiller, EpochResult, Policy, Probes,
                                                    psutil_probes)


class Machine:
    """Time and the machine's state as values a test sets; sleeping advances the time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.on_ac = True
        self.cpu = 0.0
        self.events: list[tuple[float, str]] = []  # (time, what) to change: "battery", "ac", "busy", "quiet"

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for at, what in [e for e in self.events if e[0] <= self.now]:
            self.events.remove((at, what))
            self.on_ac = {"battery": False, "ac": True}.get(what, self.on_ac)
            self.cpu = {"busy": 90.0, "quiet": 0.0}.get(what, self.cpu)

    def probes(self) -> Probes:
        return Probes(lambda: self.on_ac, lambda: self.cpu)


POLICY = Policy(max_other_cpu_percent=25, idle_for_s=60, poll_s=10, check_every_s=1)


def _work(machine: Machine, total: int, started: list[float]) -> Callable[[Callable[[], bool]], EpochResult]:
    """Work of `total` one-second steps that keeps its place between mini-epochs (as the trainer's checkpoints do)."""
    done = [0]

    def epoch(should_pause: Callable[[], bool]) -> EpochResult:
        started.append(machine.now)
        while done[0] < total:
            if should_pause():
                return EpochResult(False, done[0])
            machine.advance(1.0)
            done[0] += 1
        return EpochResult(True, done[0], {"pass_rate": 0.5})

    return epoch


def test_nothing_runs_on_battery_or_while_the_computer_is_in_use() -> None:
    machine = Machine()
    machine.on_ac = False
    machine.events = [(100.0, "ac"), (100.0, "busy"), (200.0, "quiet")]
    started: list[float] = []
    status = BackgroundDistiller(_work(machine, 5, started), machine.probes(), POLICY, machine.clock,
                                 machine.sleep).run()
    assert status.state == "done" and status.step == 5 and status.last_evaluation == {"pass_rate": 0.5}
    assert started == [260.0]  # quiet from 200 s, then a full idle minute
    assert any("on battery" in h for h in status.history)
    assert any("in use" in h for h in status.history)


def test_use_pauses_a_running_epoch_and_it_resumes_where_it_stopped() -> None:
    machine = Machine()
    machine.events = [(70.0, "busy"), (100.0, "quiet")]
    started: list[float] = []
    status = BackgroundDistiller(_work(machine, 30, started), machine.probes(), POLICY, machine.clock,
                                 machine.sleep).run()
    assert started[0] == 60.0 and len(started) == 2 and started[1] >= 160.0
    assert status.state == "done" and status.step == 30 and status.epochs == 2
    assert "paused" in " ".join(status.history)


def test_stop_ends_it_and_a_running_epoch_pauses_at_its_next_check() -> None:
    machine = Machine()
    started: list[float] = []
    distiller: BackgroundDistiller

    def epoch(should_pause: Callable[[], bool]) -> EpochResult:
        started.append(machine.now)
        for step in range(1, 1000):
            if step == 5:
                distiller.stop()  # the GUI's Stop button, from another thread in the app
            if should_pause():
                return EpochResult(False, step)
        return EpochResult(True, 1000)

    distiller = BackgroundDistiller(epoch, machine.probes(), POLICY, machine.clock, machine.sleep)
    status = distiller.run()
    assert status.state == "stopped" and status.step == 5 and len(started) == 1


def test_a_failing_epoch_is_shown_as_an_error_not_raised() -> None:
    machine = Machine()

    def epoch(should_pause: Callable[[], bool]) -> EpochResult:
        raise RuntimeError("disk full")

    status = BackgroundDistiller(epoch, machine.probes(), POLICY, machine.clock, machine.sleep).run()
    assert status.state == "error" and "disk full" in status.reason


def test_run_in_a_thread_with_the_real_clock_stops_promptly() -> None:
    machine = Machine()
    machine.cpu = 99.0  # never idle: it waits until stopped
    distiller = BackgroundDistiller(lambda p: EpochResult(True, 0), machine.probes(), Policy(poll_s=30))
    worker = threading.Thread(target=distiller.run)
    worker.start()
    distiller.stop()
    worker.join(timeout=5)
    assert not worker.is_alive() and distiller.status.state == "stopped"


def test_the_real_psutil_probes_answer_with_the_right_types() -> None:
    probes = psutil_probes()
    assert isinstance(probes.on_ac(), bool)
    busy = probes.other_cpu_percent()
    assert isinstance(busy, float) and 0.0 <= busy <= 100.0
