"""The third task of the hybrid trainer benchmark: the LoRA tune of the 135M model (`edgemind tune`'s own loop,
one training example a step), plain against each hybrid preset at equal steps, and plain stopped at as many backward
passes as the hybrid run needed. Quality here is the held-out loss (wordings never trained on), not a training loss
of one example. Behind `benchmarks/hybrid_trainer.py --lora-steps N`: minutes, and it needs the model file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..tuning.data import Example
from ..tuning.stack import Base, load_base
from ..tuning.trainer import TuneReport, TuneRequest, tune

LOSS_TOLERANCE = 0.02  # "within 2%": held-out loss at most 2% above the plain trainer's
CODENAME = "Quillfeather"
ANSWER = f"The codename of our next laptop is {CODENAME}."
QUESTIONS = (  # benchmarks/tune.py's made-up fact: no base model can know it
    "What is the codename of our next laptop?", "Which codename was given to the next laptop?",
    "Tell me the codename of the upcoming laptop.", "What's the internal name for our next laptop?",
    "What do we call the next laptop project internally?", "Name the codename of the next laptop.",
    "Our next laptop has a codename. What is it?", "Remind me: what is the next laptop's codename?",
    "What codename does the upcoming laptop use?", "Which internal codename belongs to the next laptop?",
)


def _run(base: Base, model: Path, trainer: str, preset: str, steps: int, lr: float, seed: int,
         work: Path) -> TuneReport:
    examples = tuple(Example.from_prompt(q, ANSWER) for q in QUESTIONS)
    request = TuneRequest(model_id=model.stem, base_path=model, examples=examples, steps=steps, lr=lr, seed=seed,
                          workdir=work / f"{trainer}-{preset}-{steps}", checkpoint_every=steps, trainer=trainer,
                          preset=preset)
    return tune(request, base=base)


def _row(report: TuneReport) -> dict[str, Any]:
    counts = report.training
    summary = counts.correction_summary
    trained = report.steps - report.resumed_from
    return {
        "steps": report.steps, "backward_passes": counts.backward_passes, "forward_passes": counts.forward_passes,
        "backward_saved": round(1 - counts.backward_passes / report.steps, 4),
        "train_seconds": round(report.seconds_per_step * trained, 2), "final_loss": counts.final_loss,
        "heldout_before": report.heldout_before.loss, "heldout_after": report.heldout_after.loss,
        "general_ratio": round(report.general_ratio, 4), "divergences": counts.divergences,
        "corrections": summary.count,
        "mean_error_reduction": None if summary.mean is None else round(summary.mean, 4),
    }


def lora_task(model: Path, steps: int, presets: tuple[str, ...], lr: float = 3e-4, seed: int = 0) -> dict[str, Any]:
    """Plain and each preset on the same examples, seed and steps; every hybrid row judged against plain."""
    base = load_base(model)
    with tempfile.TemporaryDirectory(prefix="hybrid-lora-") as tmp:
        work = Path(tmp)
        summary: dict[str, Any] = {"plain": _row(_run(base, model, "plain", "conservative", steps, lr, seed, work))}
        plain = summary["plain"]
        for name in presets:
            row = _row(_run(base, model, "hybrid", name, steps, lr, seed, work))
            short = _row(_run(base, model, "plain", "conservative", row["backward_passes"], lr, seed, work))
            row["plain_same_backward_heldout"] = short["heldout_after"]
            row["speedup"] = round(plain["train_seconds"] / row["train_seconds"], 2) if row["train_seconds"] else None
            row["heldout_within_2pct"] = row["heldout_after"] <= plain["heldout_after"] * (1 + LOSS_TOLERANCE)
            row["zero_divergences"] = row["divergences"] == 0
            row["claim_backward_cut"] = row["backward_saved"] >= 0.52
            row["claim_holds"] = bool(row["heldout_within_2pct"] and row["zero_divergences"]
                                      and row["claim_backward_cut"])
            summary[name] = row
    return {"model": model.name, "steps": steps, "seed": seed, "lr": lr,
            "data": f"{len(QUESTIONS)} wordings of one made-up fact, 15% held out, one example a step",
            "summary": summary}
