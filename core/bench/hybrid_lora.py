"""The third task of the hybrid trainer benchmark: the LoRA tune of the 135M model (`edgemind tune`'s own loop,
one training example a step), plain against each hybrid preset at equal steps over several seeds, plain stopped at
as many backward passes as the hybrid run needed, and whether the run earned the aggressive preset. Quality here is
the held-out loss (wordings never trained on), not a training loss of one example. Behind
`benchmarks/hybrid_trainer.py --lora-steps N`: minutes, and it needs the model file.

The summaries are pure functions of the per-seed rows (tests/core/test_hybrid_bench.py)."""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import EdgeMindError
from ..training.config import aggressive_refusal
from ..training.plain import GradientFn
from ..tuning.data import Example
from ..tuning.stack import Base, load_base
from ..tuning.trainer import TuneReport, TuneRequest, check_trainer, tune

LOSS_TOLERANCE = 0.02  # "within 2%": held-out loss at most 2% above the plain trainer's
CLAIM_SAVED = 0.52  # the design's claim starts at 52% fewer backward passes
CODENAME = "Quillfeather"
ANSWER = f"The codename of our next laptop is {CODENAME}."
QUESTIONS = (  # benchmarks/tune.py's made-up fact: no base model can know it
    "What is the codename of our next laptop?", "Which codename was given to the next laptop?",
    "Tell me the codename of the upcoming laptop.", "What's the internal name for our next laptop?",
    "What do we call the next laptop project internally?", "Name the codename of the next laptop.",
    "Our next laptop has a codename. What is it?", "Remind me: what is the next laptop's codename?",
    "What codename does the upcoming laptop use?", "Which internal codename belongs to the next laptop?",
)
DATA = f"{len(QUESTIONS)} wordings of one made-up fact, 15% held out, one example a step"


def run_tune(base: Base, model: Path, trainer: str, preset: str, steps: int, lr: float, seed: int,
             work: Path, gradient: GradientFn | None = None) -> TuneReport:
    """One `edgemind tune` run on the made-up fact; the seed picks the held-out wordings, the order and the LoRA
    initialisation, so runs of one seed differ only in their trainer."""
    examples = tuple(Example.from_prompt(q, ANSWER) for q in QUESTIONS)
    # a fresh folder each run: one with a checkpoint of the same request would resume instead of training
    workdir = Path(tempfile.mkdtemp(prefix=f"{trainer}-{preset}-{steps}-{seed}-", dir=work))
    request = TuneRequest(model_id=model.stem, base_path=model, examples=examples, steps=steps, lr=lr, seed=seed,
                          workdir=workdir, checkpoint_every=steps, trainer=trainer, preset=preset)
    return tune(request, base=base, gradient=gradient)


def report_row(report: TuneReport) -> dict[str, Any]:
    """The figures of one tune the summaries use."""
    counts = report.training
    summary = counts.correction_summary
    trained = report.steps - report.resumed_from
    refusal = aggressive_refusal(summary) if counts.trainer == "hybrid" else None
    return {
        "steps": report.steps, "backward_passes": counts.backward_passes, "forward_passes": counts.forward_passes,
        "backward_saved": round(1 - counts.backward_passes / report.steps, 4),
        "train_seconds": round(report.seconds_per_step * trained, 2), "final_loss": counts.final_loss,
        "heldout_before": report.heldout_before.loss, "heldout_after": report.heldout_after.loss,
        "general_ratio": round(report.general_ratio, 4), "divergences": counts.divergences,
        "corrections": summary.count,
        "mean_error_reduction": None if summary.mean is None else round(summary.mean, 4),
        **({"aggressive": "allowed" if refusal is None else f"refused: {refusal}"}
           if counts.trainer == "hybrid" else {}),
    }


def _spread(values: Sequence[float], digits: int = 4) -> dict[str, float]:
    """Median and range: three seeds say little more than that."""
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def summarize_lora(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians and ranges per trainer over the seeds; each hybrid preset judged against plain of the same seeds.
    `runs[name][i]` is seed i's row; every trainer has the same seeds in the same order."""
    plain = runs["plain"]
    plain_heldout = statistics.median(r["heldout_after"] for r in plain)
    summary: dict[str, Any] = {}
    for name, rows in runs.items():
        entry: dict[str, Any] = {
            "seeds": len(rows), "steps": rows[0]["steps"],
            "backward_passes": statistics.median(r["backward_passes"] for r in rows),
            "train_seconds": _spread([r["train_seconds"] for r in rows], 2),
            "heldout_before": _spread([r["heldout_before"] for r in rows]),
            "heldout_after": _spread([r["heldout_after"] for r in rows]),
            "general_ratio": _spread([r["general_ratio"] for r in rows]),
            "divergences": sum(r["divergences"] for r in rows),
        }
        if name != "plain":
            means = [r["mean_error_reduction"] for r in rows if r["mean_error_reduction"] is not None]
            ratios = [r["heldout_after"] / p["heldout_after"] for r, p in zip(rows, plain, strict=True)]
            entry.update(
                backward_saved=_spread([r["backward_saved"] for r in rows]),
                speedup=_spread([p["train_seconds"] / r["train_seconds"] for r, p in zip(rows, plain, strict=True)
                                 if r["train_seconds"]], 2),
                heldout_ratio=_spread(ratios, 2),
                plain_same_backward_heldout=_spread([r["plain_same_backward_heldout"] for r in rows]),
                mean_error_reduction=_spread(means) if means else None,
                corrections=sum(r["corrections"] for r in rows),
                seeds_within_2pct=sum(ratio <= 1 + LOSS_TOLERANCE for ratio in ratios),
                aggressive_allowed_runs=sum(r.get("aggressive") == "allowed" for r in rows),
            )
            entry["heldout_within_2pct"] = entry["heldout_after"]["median"] <= plain_heldout * (1 + LOSS_TOLERANCE)
            entry["zero_divergences"] = entry["divergences"] == 0
            entry["claim_backward_cut"] = entry["backward_saved"]["median"] >= CLAIM_SAVED
            entry["claim_holds"] = bool(entry["heldout_within_2pct"] and entry["zero_divergences"]
                                        and entry["claim_backward_cut"])
        summary[name] = entry
    return summary


def aggressive_row(runs: dict[str, list[dict[str, Any]]], start_refusal: str) -> dict[str, Any]:
    """The aggressive preset's row: a tune may not start with it (`start_refusal`), and a run may switch to it only
    when its own corrections measured >= 95% error reduction; how many hybrid runs earned that, and the best mean
    any of them measured."""
    hybrid = [r for name, rows in runs.items() if name != "plain" for r in rows]
    means = [r["mean_error_reduction"] for r in hybrid if r["mean_error_reduction"] is not None]
    allowed = sum(r.get("aggressive") == "allowed" for r in hybrid)
    return {"runs": len(hybrid), "allowed_runs": allowed, "best_mean_error_reduction": max(means) if means else None,
            "start": f"refused: {start_refusal}",
            "verdict": "refused in every run" if not allowed else f"allowed in {allowed} of {len(hybrid)} runs"}


def _start_refusal() -> str:
    try:
        check_trainer("hybrid", "aggressive")
    except EdgeMindError as exc:
        return str(exc)
    return "not refused"  # the rule changed: the row then says so


def lora_task(model: Path, steps: int, presets: tuple[str, ...], seeds: int = 3, lr: float = 3e-4,
              base: Base | None = None) -> dict[str, Any]:
    """Plain and each preset on the same examples and steps, per seed; every hybrid row judged against plain of its
    seed, and plain stopped at as many backward passes (one run per distinct count: presets often need the same)."""
    base = base or load_base(model)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ("plain", *presets)}
    with tempfile.TemporaryDirectory(prefix="hybrid-lora-") as tmp:
        work = Path(tmp)
        for seed in range(seeds):
            runs["plain"].append(report_row(run_tune(base, model, "plain", "conservative", steps, lr, seed, work)))
            short: dict[int, float] = {}
            for name in presets:
                row = report_row(run_tune(base, model, "hybrid", name, steps, lr, seed, work))
                passes = row["backward_passes"]
                if passes not in short:
                    short[passes] = report_row(
                        run_tune(base, model, "plain", "conservative", passes, lr, seed, work))["heldout_after"]
                row["plain_same_backward_heldout"] = short[passes]
                runs[name].append(row)
                print(f"lora seed {seed} {name}: {passes} backward, held-out {row['heldout_after']} "
                      f"(plain {runs['plain'][-1]['heldout_after']})", file=sys.stderr)
    return {"model": model.name, "steps": steps, "seeds": seeds, "lr": lr, "data": DATA,
            "summary": summarize_lora(runs), "aggressive": aggressive_row(runs, _start_refusal()), "runs": runs}
