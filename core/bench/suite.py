"""`edgemind bench`: every measurement in one run, in a scratch data folder, written as report.json + report.html.

The bench's engine uses the user's models, artifacts and settings but its own temporary data folder, so benchmark
questions never land in the user's conversations, answer cache or audit log. Each section that cannot run (no
plugin, no endpoint) is recorded with its reason instead of failing the whole run.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..backends.registry import backend_factories
from ..engine import Engine, open_registry
from ..errors import EdgeMindError
from ..models.manifest import ModelSpec
from ..routing.router import IntentRouter
from ..safety.checker import SafetyChecker
from ..settings import Settings
from .cache_speed import measure_cache_tiers
from .child_env import child_env
from .cold_start import measure_cold_start
from .compare import compare_reports, comparison_record
from .generation import measure_generation
from .html_report import render_html
from .machine import machine_profile
from .quality import measure_quality
from .report import (
    SCHEMA,
    BenchError,
    Figure,
    Goal,
    check_writable,
    figures_dict,
    load_report,
    save_report,
    write_text_atomic,
)
from .routing import measure_router
from .safety_rates import measure_safety
from .timing import median

log = logging.getLogger(__name__)
REMOTE = ("ollama", "openai")
SECTIONS = ("generation", "cold_start", "cache", "router", "safety", "quality")
ITL_SAMPLES_KEPT = 2000

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True, slots=True)
class BenchOptions:
    out_dir: Path
    quick: bool = False
    compare: Path | None = None
    backends: tuple[str, ...] | None = None  # None: every available one
    repeats: int | None = None
    model: str | None = None
    sections: tuple[str, ...] | None = None  # None: every section (SECTIONS)
    command: tuple[str, ...] = ("edgemind", "bench")


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of each measurement a run does (quick: fits in ~2 minutes on a 2-core laptop)."""

    repeats: int
    max_tokens: int
    load_repeats: int
    cold_starts: int
    cache_repeats: int
    prefix_repeats: int
    qa_limit: int | None
    code_limit: int | None

    @classmethod
    def of(cls, quick: bool, repeats: int | None) -> Plan:
        if quick:
            return cls(repeats or 3, 48, 1, 1, min(repeats or 3, 3), 2, 5, 2)
        return cls(repeats or 5, 128, 3, 3, repeats or 7, 5, None, None)


@dataclass(frozen=True, slots=True)
class Target:
    """One backend to measure: its report key, the backend name and the model spec it serves."""

    key: str
    backend: str
    spec: ModelSpec | None
    reason: str = ""


def discover_targets(settings: Settings, model_id: str, wanted: tuple[str, ...] | None) -> list[Target]:
    """llama.cpp and every other registered local backend on the model; configured remote endpoints.

    Other local backends (onnx_int4) are found through `backend_factories()`, never imported by name; they are
    asked to serve the same GGUF model spec, as the engine would with its backend field changed."""
    factories = backend_factories()
    if wanted is not None:
        unknown = [b for b in wanted if b not in factories]
        if unknown:
            raise BenchError(f"unknown backend {unknown[0]!r}; available: {', '.join(sorted(factories))}")
    registry, _ = open_registry(settings)
    spec = registry.get(model_id)
    if spec.backend != "llama_cpp":
        raise BenchError(f"model {model_id!r} is served by {spec.backend}; the bench measures local backends on a "
                         "GGUF model (remote endpoints are found in the model registry)")
    targets = [Target("llama_cpp", "llama_cpp", spec)]
    targets += [Target(name, name, replace(spec, backend=name)) for name in sorted(factories)
                if name != "llama_cpp" and name not in REMOTE]
    for remote in REMOTE:
        if wanted is not None and remote not in wanted:
            continue
        # get() and not the listing: only get() carries a remote model's key (from the OS keyring or its file)
        specs = [registry.get(s.id) for s in registry.user_models() if s.backend == remote]
        if remote == "ollama":
            specs += registry.ollama_models()[:1]  # the first model of a running Ollama server
        targets += [Target(s.id, remote, s) for s in specs]
        if not specs and wanted is not None:
            targets.append(Target(remote, remote, None, f"no {remote} endpoint is configured in the model registry"))
    if wanted is not None:
        targets = [t for t in targets if t.backend in wanted]
    return targets


def _bench_settings(settings: Settings, home: Path) -> Settings:
    # a session-only audit key file: the scratch folder must not add entries to the OS keyring
    return replace(settings, home=home, audit_key_store="file")


class _Steps:
    """Numbered progress: `[k/n] message` to the callback, so a GUI can fill a bar and a log alike."""

    def __init__(self, total: int, callback: Progress) -> None:
        self.total, self.done, self._callback = total, 0, callback

    def start(self, message: str) -> Callable[[str], None]:
        self.done += 1
        self._callback(self.done, self.total, message)
        step = self.done
        return lambda detail: self._callback(step, self.total, f"{message}: {detail}")


def run_bench(settings: Settings, options: BenchOptions, progress: Progress = lambda _k, _n, _m: None,
              ) -> tuple[dict[str, Any], Path, Path]:
    """Measure, write DIR/report.json and DIR/report.html; return (report, json path, html path).

    Bad input (unknown backend, unwritable folder, unusable compare file, unknown model) fails before anything is
    measured, with a one-line BenchError or ModelError."""
    started = time.perf_counter()
    out_dir = check_writable(options.out_dir)
    old = load_report(options.compare) if options.compare is not None else None
    model_id = options.model or settings.default_model
    plan = Plan.of(options.quick, options.repeats)
    sections = options.sections or SECTIONS
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise BenchError(f"unknown section {unknown[0]!r}; sections: {', '.join(SECTIONS)}")
    if "generation" in sections:
        targets = discover_targets(settings, model_id, options.backends)
    else:
        targets = []
        open_registry(settings)[0].get(model_id)  # an unknown model fails now, not after minutes of measuring
    steps = _Steps(1 + len(targets) + sum(s != "generation" for s in sections), progress)

    report: dict[str, Any] = {
        "schema": SCHEMA, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(options.command), "hardware": {}, "backends": {}, "sections": {},
        "settings": {"quick": options.quick, "model": model_id, "repeats": plan.repeats,
                     "max_tokens": plan.max_tokens, "threads": settings.effective_threads,
                     "context_length": settings.context_length, "router_enabled": settings.router_enabled,
                     "safety_enabled": settings.safety_enabled, "cache_enabled": settings.cache_enabled,
                     "backends": [t.key for t in targets], "sections": list(sections),
                     "plan": {k: getattr(plan, k) for k in plan.__slots__}},
    }
    steps.start("hardware profile and memory bandwidth")
    report["hardware"] = machine_profile()

    with tempfile.TemporaryDirectory(prefix="edgemind-bench-") as scratch:
        bench_settings = _bench_settings(settings, Path(scratch))
        engine = Engine.create(bench_settings)
        engine.summarize_in_background = False
        try:
            for target in targets:
                tell = steps.start(f"{target.key}: generation")
                began = time.perf_counter()
                report["backends"][target.key] = _measure_backend(engine, target, plan, tell)
                report["backends"][target.key]["seconds"] = round(time.perf_counter() - began, 1)
            measures: dict[str, tuple[str, Callable[..., Any]]] = {
                "cold_start": ("cold start (a fresh `edgemind ask` process)",
                               lambda tell: _cold_start(bench_settings, model_id, plan.cold_starts, tell)),
                "cache": ("answer cache tiers", lambda tell: _cache(bench_settings, model_id, plan, tell)),
                "router": ("router on the held-out split", lambda tell: _router(bench_settings)),
                "safety": ("safety checks on the held-out split", lambda tell: _safety(bench_settings)),
                "quality": ("quality set (factual QA, code tasks in the sandbox)",
                            lambda tell: _quality(engine, model_id, plan, tell)),
            }
            for name in SECTIONS[1:]:
                if name in sections:
                    title, measure = measures[name]
                    _section(report, name, steps.start(title), measure)
        finally:
            engine.close()

    report["duration_s"] = round(time.perf_counter() - started, 1)
    if old is not None:
        changes = compare_reports(old, report)
        report["comparison"] = comparison_record(str(options.compare), old, changes, report)
    json_path = save_report(report, out_dir)
    html_path = out_dir / "report.html"
    write_text_atomic(html_path, render_html(load_report(json_path)))
    return report, json_path, html_path


def _measure_backend(engine: Engine, target: Target, plan: Plan, tell: Callable[[str], None]) -> dict[str, Any]:
    if target.spec is None:
        return {"status": "not configured", "reason": target.reason, "figures": {}}
    base = {"backend": target.backend, "model": target.spec.id}
    try:
        if target.backend not in REMOTE:
            # verify (hash) the GGUF now, so the first timed load is a load and not a 500 MB SHA-256
            engine.models.prepare(replace(target.spec, backend="llama_cpp"))
        backend = engine.backend_for(target.spec)
        local = target.backend not in REMOTE
        result = measure_generation(backend, repeats=plan.repeats, max_tokens=plan.max_tokens,
                                    load_repeats=plan.load_repeats if local else 1,
                                    unload=engine.models.unload_all if local else None, progress=tell)
    except EdgeMindError as exc:
        tell(f"unavailable: {exc}")
        return {**base, "status": "unavailable", "reason": str(exc), "figures": {}}
    except Exception as exc:  # another engineer's backend, found by discovery: its failure is reported, not fatal
        log.exception("backend %s failed", target.key)
        tell(f"failed: {exc.__class__.__name__}: {exc}")
        return {**base, "status": "failed", "reason": f"{exc.__class__.__name__}: {exc}", "figures": {}}
    finally:
        if target.backend not in REMOTE:
            engine.models.unload_all()  # one model resident at a time: backends must not compete for memory
    return {**base, "status": "ok", "figures": figures_dict(result.figures),
            "itl_ms": [round(g, 3) for g in result.itl_ms[:ITL_SAMPLES_KEPT]], "runs": result.runs}


def _section(report: dict[str, Any], name: str, tell: Callable[[str], None],
             measure: Callable[[Callable[[str], None]], tuple[dict[str, Figure], dict[str, Any]]]) -> None:
    started = time.perf_counter()
    try:
        figures, details = measure(tell)
    except EdgeMindError as exc:
        tell(f"not measured: {exc}")
        report["sections"][name] = {"figures": {}, "error": str(exc),
                                    "seconds": round(time.perf_counter() - started, 1)}
        return
    report["sections"][name] = {"figures": figures_dict(figures), **details,
                                "seconds": round(time.perf_counter() - started, 1)}


def _cold_start(settings: Settings, model_id: str, repeats: int,
                tell: Callable[[str], None]) -> tuple[dict[str, Figure], dict[str, Any]]:
    runs = []
    for i in range(repeats):
        runs.append(measure_cold_start(child_env(settings, audit_key_store="file"), model_id))
        tell(f"{i + 1}/{repeats}: first token after {runs[-1].first_token_ms:.0f} ms")
    return {
        "first_token_ms": Figure(median([r.first_token_ms for r in runs]), "ms", repeats, "lower",
                                 note="process launch to the first answer byte"),
        "process_total_ms": Figure(median([r.total_ms for r in runs]), "ms", repeats, "lower"),
        "peak_rss_mb": Figure(median([r.peak_rss_bytes / 2**20 for r in runs]), "MiB", repeats, "lower",
                              note="peak resident memory of the `edgemind ask` process"),
    }, {"model": model_id, "backend": "llama_cpp"}


def _cache(settings: Settings, model_id: str, plan: Plan,
           tell: Callable[[str], None]) -> tuple[dict[str, Figure], dict[str, Any]]:
    """The cache's own benchmark (cache_speed.py, also behind benchmarks/cache.py) as report figures."""
    tell(f"{plan.cache_repeats} questions: cold, then from L1, L2 and by meaning; prefix reuse")
    try:
        r = measure_cache_tiers(settings, model=model_id, repeats=plan.cache_repeats, max_tokens=48,
                                prefix=plan.prefix_repeats > 0)
    except AssertionError as exc:  # a tier that did not answer what it should: a finding, not a crash
        raise BenchError(f"the cache did not behave as measured: {exc}") from None
    n = r.repeats
    figures: dict[str, Figure] = {
        "cold_answer_ms": Figure(r.cold_total_ms, "ms", n, "lower", note="48 tokens at most, model warm"),
        "cold_ttft_ms": Figure(r.cold_ttft_ms, "ms", n, "lower"),
    }
    for t in r.tiers:
        figures[f"{t.tier}_lookup_ms"] = Figure(t.lookup_ms, "ms", n, "lower", Goal("<=", t.goal_ms))
        figures[f"{t.tier}_hit_ask_ms"] = Figure(t.ask_ms, "ms", n, "lower", note="through Engine.ask")
        figures[f"{t.tier}_speedup_x"] = Figure(t.ratio_vs_cold, "x", n, "higher", Goal(">=", 100.0),
                                                f"cold answer / {t.tier} hit, end to end")
    figures["semantic_miss_ms"] = Figure(r.semantic_miss_ms, "ms", n, "lower",
                                         note=f"searching {r.semantic_rows} stored prompts")
    if r.accuracy is not None:
        a = r.accuracy
        figures["semantic_false_hit_rate"] = Figure(a.false_hit_rate, "ratio", a.heldout_pairs, "lower",
                                                    Goal("<=", 0.0), "held-out near-miss pairs served")
        figures["semantic_recall"] = Figure(a.recall, "ratio", a.heldout_pairs, "higher",
                                            note="held-out paraphrases served")
        figures["semantic_word_match_recall"] = Figure(
            a.word_match_recall, "ratio", a.heldout_pairs, "higher",
            note=f"the same pairs with the engine's word match ({a.word_match_false_hits} false hits)")
    for p in r.prefix:
        slug = "".join(ch if ch.isalnum() else "_" for ch in p.scenario.lower()).strip("_")[:40]
        note = f"first token {p.ttft_reused_ms} ms reused vs {p.ttft_baseline_ms} ms"
        figures[f"prefix_{slug}_x"] = Figure(p.ratio, "x", n, "higher", note=note)
    return figures, {"tiers": [t.tier for t in r.tiers], "cache_bench": r.as_dict()}


def _router(settings: Settings) -> tuple[dict[str, Figure], dict[str, Any]]:
    """The router as the engine builds it (shared embedder, the classifier trained in the artifacts folder), measured
    alone, whether or not the settings turn it on for answers."""
    router = IntentRouter.create(settings)
    figures, summary = measure_router(lambda p: router.route(p).intent)
    return figures, {"summary": summary}


def _safety(settings: Settings) -> tuple[dict[str, Figure], dict[str, Any]]:
    checker = SafetyChecker.create(settings)
    figures, summary = measure_safety(lambda p: not checker.check_input(p).allowed)
    return figures, {"level": checker.policy.level, "enabled_in_settings": settings.safety_enabled,
                     "summary": summary}


def _quality(engine: Engine, model_id: str, plan: Plan,
             tell: Callable[[str], None]) -> tuple[dict[str, Figure], dict[str, Any]]:
    result = measure_quality(engine, model_id, qa_limit=plan.qa_limit, code_limit=plan.code_limit, progress=tell)
    return result.figures, {"model": model_id, "items": result.items}
