"""The Benchmarks page over the real `edgemind bench` (tiny model, a subset of sections to stay quick): progress
streams in, the report's figures and charts show, the last report shows on open, and Cancel ends the child."""

from __future__ import annotations

import json

from edgemind.app.bench_page import BenchPage
from edgemind.app.context import AppContext
from edgemind.core.settings import Settings

LONG = 240_000


def test_benchmarks_page_runs_the_bench_and_shows_its_figures_and_charts(qtbot, gui, shot) -> None:
    window = gui.window
    page = window.bench_page
    assert window.tabs.tabText(window.tabs.indexOf(page)) == "Benchmarks"
    window.tabs.setCurrentWidget(page)
    page.extra_args = ("--sections", "generation,cache", "--repeats", "1", "--backends", "llama_cpp")
    outcomes: list[str] = []
    page.run_did_finish.connect(outcomes.append)
    maxima: list[int] = []
    gui.ctx.watchdog.reset()
    page.run_button.click()
    assert page.is_running() and not page.run_button.isEnabled() and page.cancel_button.isEnabled()

    def finished() -> bool:
        maxima.append(page.progress.maximum())
        return bool(outcomes)

    qtbot.waitUntil(finished, timeout=LONG)
    assert outcomes == ["done"], page.log_view.toPlainText()[-1500:]
    assert 3 in maxima, "the numbered steps ([k/3]) never reached the progress bar"
    assert "[1/3] hardware profile" in page.log_view.toPlainText()
    qtbot.waitUntil(lambda: page.report is not None, timeout=10_000)
    report = json.loads((gui.ctx.settings.home / "bench" / "report.json").read_text())
    decode = report["backends"]["llama_cpp"]["figures"]["decode_tok_s"]["value"]
    assert decode > 0
    shown = page.shown_figures()
    assert shown["llama_cpp decode"] == f"{decode:.1f} tok/s"
    assert "llama_cpp TTFT" in shown and "llama_cpp jitter (p99-p50)" in shown
    assert page.chart_titles() == ["Decode speed", "Time to first token", "Inter-token latency (llama_cpp)",
                                   "Cache tiers"]
    assert gui.ctx.watchdog.longest_ms < 200, f"GUI thread blocked {gui.ctx.watchdog.longest_ms:.0f} ms"
    shot(window, "benchmarks")

    # a new window on the same data folder opens on the last report
    ctx = AppContext(gui.ctx.settings)
    reopened = BenchPage(ctx)
    qtbot.waitUntil(lambda: reopened.report is not None, timeout=10_000)
    assert reopened.shown_figures() == shown and reopened.report["created_at"] == report["created_at"]
    ctx.shutdown()


def test_cancel_ends_the_benchmark_process(qtbot, settings: Settings) -> None:
    ctx = AppContext(settings)
    page = BenchPage(ctx)
    outcomes: list[str] = []
    page.run_did_finish.connect(outcomes.append)
    page.run()
    qtbot.waitUntil(lambda: page.process is not None and "[1/" in page.log_view.toPlainText(), timeout=LONG)
    process = page.process
    assert process.poll() is None
    page.cancel()
    qtbot.waitUntil(lambda: bool(outcomes), timeout=30_000)
    assert outcomes == ["cancelled"] and page.status.text() == "Cancelled."
    assert process.poll() is not None, "the bench process still runs"
    assert page.run_button.isEnabled() and not page.cancel_button.isEnabled() and not page.is_running()
    assert not (settings.home / "bench" / "report.json").exists()
    ctx.shutdown()
