"""`edgemind bench`: the report's schema, --compare's judgement, the self-contained HTML, bad input as one line,
and a real quick run on the tiny model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from edgemind.core.bench.compare import compare_reports
from edgemind.core.bench.html_report import charts, render_html
from edgemind.core.bench.quality import extract_code, judge_answer
from edgemind.core.bench.report import (SCHEMA, BenchError, Figure, Goal, figures_dict, iter_figures, load_report,
                                        save_report)
from edgemind.core.bench.timing import percentile
from tests.conftest import TINY

EDGEMIND = [sys.executable, "-m", "edgemind.core.cli"]


def make_report(decode: float = 50.0, ttft: float = 200.0, l1: float = 0.02) -> dict[str, Any]:
    backend = {"decode_tok_s": Figure(decode, "tok/s", 5, "higher"), "ttft_ms": Figure(ttft, "ms", 5, "lower"),
               "itl_p50_ms": Figure(20.0, "ms", 300, "lower"), "itl_p99_ms": Figure(26.0, "ms", 300, "lower"),
               "jitter_ms": Figure(6.0, "ms", 300, "lower", Goal("<=", 10.0)),
               "prompt_tokens": Figure(56, "tokens", 5)}
    cache = {"cold_answer_ms": Figure(900.0, "ms", 7, "lower"), "l1_lookup_ms": Figure(l1, "ms", 7, "lower",
                                                                                       Goal("<=", 1.0)),
             "l2_lookup_ms": Figure(12.5, "ms", 7, "lower", Goal("<=", 10.0))}
    return {"schema": SCHEMA, "created_at": "2026-11-27T18:00:00+00:00", "command": ["edgemind", "bench"],
            "duration_s": 61.0, "hardware": {"cpu": "Test CPU", "physical_cores": 2, "logical_cores": 2},
            "settings": {"quick": True, "model": TINY, "repeats": 5},
            "backends": {"llama_cpp": {"status": "ok", "figures": figures_dict(backend),
                                       "itl_ms": [18.0 + (i % 7) for i in range(300)]}},
            "sections": {"cache": {"figures": figures_dict(cache)}}}


def test_report_round_trips_through_json_with_goals_judged(tmp_path: Path) -> None:
    report = make_report()
    path = save_report(report, tmp_path)
    loaded = load_report(path)
    assert loaded == json.loads(json.dumps(report))
    figs = dict(iter_figures(loaded))
    assert figs["backend llama_cpp / jitter_ms"]["pass"] is True
    assert figs["cache / l2_lookup_ms"]["pass"] is False and figs["cache / l2_lookup_ms"]["goal"] == {"op": "<=",
                                                                                                       "value": 10.0}
    assert figs["backend llama_cpp / decode_tok_s"] == {"value": 50.0, "unit": "tok/s", "repeats": 5,
                                                        "better": "higher"}


def test_a_missing_measurement_is_saved_as_null_never_as_zero(tmp_path: Path) -> None:
    report = make_report()
    report["backends"]["llama_cpp"]["figures"]["ttft_ms"] = Figure(float("nan"), "ms", 0, "lower").as_dict()
    loaded = load_report(save_report(report, tmp_path))
    assert loaded["backends"]["llama_cpp"]["figures"]["ttft_ms"]["value"] is None


@pytest.mark.parametrize("content, says", [
    ("not json {", "not JSON"),
    ('{"schema": "something-else/1"}', "not an EdgeMind bench report"),
    (json.dumps({**make_report(), "backends": {"x": {"figures": {"f": {"value": "fast", "unit": "ms"}}}}}),
     "value must be a number"),
])
def test_garbage_reports_are_rejected_naming_the_problem(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "old.json"
    path.write_text(content)
    with pytest.raises(BenchError, match=says):
        load_report(path)


def test_compare_flags_a_6_percent_change_but_not_a_4_percent_one() -> None:
    old = make_report(decode=50.0, ttft=200.0)
    changes = {c.figure: c for c in compare_reports(old, make_report(decode=50.0 * 1.06, ttft=200.0 * 1.04))}
    assert set(changes) == {"backend llama_cpp / decode_tok_s"}
    assert changes["backend llama_cpp / decode_tok_s"].verdict == "better"


def test_compare_knows_a_lower_latency_is_better_and_a_lower_speed_worse() -> None:
    old = make_report(decode=50.0, ttft=200.0, l1=0.02)
    changes = {c.figure: c for c in compare_reports(old, make_report(decode=45.0, ttft=180.0, l1=0.03))}
    assert changes["backend llama_cpp / ttft_ms"].verdict == "better"
    assert changes["backend llama_cpp / decode_tok_s"].verdict == "worse"
    assert changes["cache / l1_lookup_ms"].verdict == "worse"
    assert changes["backend llama_cpp / ttft_ms"].relative == pytest.approx(-0.10)
    # a figure without a direction is reported as changed, never judged
    report = make_report()
    report["backends"]["llama_cpp"]["figures"]["prompt_tokens"]["value"] = 80
    neutral = {c.figure: c for c in compare_reports(make_report(), report)}
    assert neutral["backend llama_cpp / prompt_tokens"].verdict == "changed"


def test_html_is_self_contained_and_shows_every_figure() -> None:
    report = make_report()
    html = render_html(report)
    assert not re.search(r"https?://", html), "the page must not reference anything on a network"
    assert not re.search(r"<script|<link|<img|@import|url\(", html, re.IGNORECASE)
    assert html.count("<svg") == len(charts(report)) == 4  # decode, TTFT, inter-token histogram, cache tiers
    for name, fig in iter_figures(report):
        assert name in html
    assert "50.00 tok/s" in html and "200 ms" in html  # the bar labels
    assert "FAIL" in html and "PASS" in html


def test_percentile_matches_linear_interpolation() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([], 50) != percentile([], 50)  # NaN: nothing measured


def test_quality_judge_and_code_extraction() -> None:
    assert judge_answer("Paris.", ["paris"]) == (True, True)
    assert judge_answer("The capital of France is Paris.", ["paris"]) == (False, True)
    assert judge_answer("Lyon", ["paris"]) == (False, False)
    assert judge_answer("The answer is 144!\nBecause 12*12.", ["144"]) == (False, True)
    assert extract_code("Here:\n```python\ndef f():\n    return 1\n```\nDone.") == "def f():\n    return 1"
    assert extract_code("def g(): pass") == "def g(): pass"


def bench(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EDGEMIND, "bench", *args], env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], says: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgemind: error: "), proc.stderr
    assert says in lines[0] and "Traceback" not in proc.stderr


def test_bad_input_is_a_one_line_error_before_anything_is_measured(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_one_line_error(bench(cli_env, "--quick", "--out", str(out), "--compare", str(tmp_path / "nope.json")),
                          "no such file")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    assert_one_line_error(bench(cli_env, "--quick", "--out", str(out), "--compare", str(garbage)), "not JSON")
    assert_one_line_error(bench(cli_env, "--quick", "--out", str(out), "--backends", "llama_cpp,warp_drive"),
                          "unknown backend 'warp_drive'; available: ")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_one_line_error(bench(cli_env, "--quick", "--out", str(blocker / "sub")), "cannot write the report")
    assert not out.exists() or not (out / "report.json").exists()


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it
def test_quick_generation_and_cache_on_the_tiny_model_give_a_valid_report(cli_env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "bench"
    proc = bench(cli_env, "--quick", "--model", TINY, "--repeats", "2", "--backends", "llama_cpp",
                 "--sections", "generation,cache", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = load_report(out / "report.json")
    llama = report["backends"]["llama_cpp"]
    assert llama["status"] == "ok" and llama["model"] == TINY
    f = llama["figures"]
    assert f["decode_tok_s"]["value"] > 0 and f["ttft_ms"]["value"] > 0 and f["load_ms"]["value"] > 0
    assert f["decode_tok_s"]["repeats"] == 2 and f["decode_tok_s"]["better"] == "higher"
    assert f["itl_p99_ms"]["value"] >= f["itl_p95_ms"]["value"] >= f["itl_p50_ms"]["value"] > 0
    assert f["jitter_ms"]["goal"] == {"op": "<=", "value": 10.0} and isinstance(f["jitter_ms"]["pass"], bool)
    assert len(llama["itl_ms"]) == f["itl_p50_ms"]["repeats"] > 10
    assert report["hardware"]["memory_read_gbs"] > 0 and report["hardware"]["versions"]["llama-cpp-python"]
    cache = report["sections"]["cache"]["figures"]
    assert cache["l1_lookup_ms"]["value"] < cache["l2_lookup_ms"]["value"] < cache["cold_answer_ms"]["value"]
    assert set(report["sections"]) == {"cache"}
    steps = [line for line in proc.stderr.splitlines() if re.match(r"edgemind bench: \[\d+/\d+\] ", line)]
    assert steps[0].startswith("edgemind bench: [1/3]") and steps[-1].startswith("edgemind bench: [3/3]")
    assert "llama_cpp decode" in proc.stdout and str(out / "report.html") in proc.stdout
    html = (out / "report.html").read_text()
    assert not re.search(r"https?://", html) and "backend llama_cpp / decode_tok_s" in html


@pytest.mark.slow  # every section, with a cold start and the code tasks: ~1-3 minutes on 2 cores
def test_quick_bench_on_the_tiny_model_measures_every_section(cli_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "bench"
    started = time.perf_counter()
    proc = bench(cli_env, "--quick", "--model", TINY, "--repeats", "1", "--backends", "llama_cpp", "--out", str(out))
    took = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = load_report(out / "report.json")
    assert report["backends"]["llama_cpp"]["figures"]["decode_tok_s"]["value"] > 0
    sections = report["sections"]
    assert not [name for name, s in sections.items() if s.get("error")], sections
    assert sections["cold_start"]["figures"]["first_token_ms"]["value"] > 0
    assert sections["cold_start"]["figures"]["peak_rss_mb"]["value"] > 50  # the model alone is 98 MB of weights
    assert 0.5 < sections["router"]["figures"]["accuracy"]["value"] <= 1
    assert {"harmful_refused", "benign_refused", "p95_ms"} <= set(sections["safety"]["figures"])
    assert {"qa_exact", "qa_contains", "code_pass"} <= set(sections["quality"]["figures"])
    assert [i["kind"] for i in sections["quality"]["items"]].count("code") == 2
    steps = [line for line in proc.stderr.splitlines() if re.match(r"edgemind bench: \[\d+/\d+\] ", line)]
    assert steps[-1].startswith("edgemind bench: [7/7]")
    print(f"quick bench on the tiny model took {took:.0f} s")


def test_comparison_says_when_two_reports_are_not_comparable() -> None:
    from edgemind.core.bench.compare import comparison_record

    old, new = make_report(), make_report(decode=60.0)
    new["settings"]["model"] = "qwen2.5-coder-0.5b-instruct"
    record = comparison_record("old.json", old, compare_reports(old, new), new)
    assert record["better"] == 1 and record["worse"] == 0
    assert record["not_comparable"] == [f"model differs: {TINY} then, qwen2.5-coder-0.5b-instruct now"]
    assert "model differs" in render_html({**new, "comparison": record})


@pytest.mark.timeout(600)  # two engines share 2 cores here: the server's and the bench's
def test_a_configured_openai_compatible_endpoint_is_measured_like_any_backend(engine, settings, tmp_path: Path) -> None:
    """A real OpenAI-compatible server (EdgeMind's own `serve` app on loopback) added to the model registry."""
    from edgemind.core.bench.suite import BenchOptions, run_bench
    from edgemind.core.engine.facade import open_registry
    from tests.support.api_server import ApiServer

    key = "bench-key-0123456789abcdef"
    steps: list[tuple[int, int, str]] = []
    with ApiServer(engine, api_key=key, rate_limit_per_minute=0) as server:
        open_registry(settings)[0].add_openai(server.url + "/v1", TINY, key, "openai:tiny")
        report, json_path, _html = run_bench(settings, BenchOptions(
            out_dir=tmp_path / "out", quick=True, repeats=1, model=TINY, backends=("openai",),
            sections=("generation",)), lambda k, n, m: steps.append((k, n, m)))
    assert list(report["backends"]) == ["openai:tiny"]
    remote = report["backends"]["openai:tiny"]
    assert remote["status"] == "ok" and remote["backend"] == "openai", remote.get("reason")
    assert remote["figures"]["decode_tok_s"]["value"] > 0 and remote["figures"]["ttft_ms"]["value"] > 0
    assert "load_ms" not in remote["figures"]  # a server's model load is not ours to time
    assert steps[0][:2] == (1, 2) and steps[-1][0] == 2 and "openai:tiny: generation" in steps[-1][2]
    assert load_report(json_path)["settings"]["backends"] == ["openai:tiny"]
