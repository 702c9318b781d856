"""`edgemind tune`: LoRA-tune a local model on the user's JSONL examples, print the before/after report.

Thin: core/tuning/ does the work. Bad data exits 2 with one line naming the line; the memory bound is printed
before the model loads; Ctrl-C stops at the next step with the checkpoint kept (exit 130), and the same command
resumes from it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from ..backends.base import CancelToken
from ..engine import Models
from ..errors import ModelNotFound, TuneDataError
from ..settings import Settings
from ..tuning.data import Example, read_jsonl, split
from ..tuning.gguf_lora import export_lora
from ..tuning.memory import check_fits, plan_memory
from ..tuning.registration import adapter_manifest, data_summary
from ..tuning.stack import require_stack
from ..tuning.trainer import (
    HYBRID_PRESETS,
    TRAINERS,
    TuneProgress,
    TuneReport,
    TuneRequest,
    check_trainer,
    default_steps,
    tune,
)
from .arg_types import bounded, int_in
from .interrupts import ctrl_c_cancels
from .output import EXIT_OK

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TUNING_FOLDER = "tuning"  # <data>/tuning/<out>/: checkpoints of a tune, kept so the same command can resume
_learning_rate = bounded(float, "a number", lambda v: 0.0 < v < 1.0, "must be between 0 and 1 (e.g. 0.0003)")


def add_command(sub: Any) -> None:
    p = sub.add_parser("tune", help="teach a local model your own examples (a LoRA adapter; needs edgemind[tune])",
                       description="JSONL data: one {\"messages\": [...]} (chat; the last message is the answer) or "
                                   "{\"prompt\": ..., \"answer\": ...} object per line. About 15%% of the examples "
                                   "are held out to measure the result. Rerun the same command to resume.")
    p.add_argument("--model", required=True, help="the local GGUF model to tune (see `edgemind models list`)")
    p.add_argument("--data", required=True, help="training examples, JSONL")
    p.add_argument("--rank", type=int_in(1, 256), default=8, help="LoRA rank (default 8)")
    p.add_argument("--steps", type=int_in(1, 100_000), help="training steps, one example each (default: three "
                                                             "passes over the examples, 20 to 300)")
    p.add_argument("--lr", type=_learning_rate, default=3e-4, help="learning rate (default 0.0003)")
    p.add_argument("--out", help="the adapter's name, its model id afterwards (default: MODEL-tuned)")
    p.add_argument("--checkpoint-every", type=int_in(1, 100_000), default=10, metavar="N",
                   help="save a checkpoint every N steps, to resume from after a stop (default 10)")
    p.add_argument("--threads", type=int_in(1, 256), help="CPU threads for training (default: torch's choice)")
    p.add_argument("--trainer", choices=TRAINERS, default="plain",
                   help="plain: a backward pass every step (default); hybrid: predicted steps between real ones, "
                        "fewer backward passes (see the report's backward_passes)")
    p.add_argument("--preset", metavar="NAME",
                   help=f"the hybrid trainer's preset: {', '.join(HYBRID_PRESETS)} (default conservative; aggressive "
                        f"is refused until a run's corrections earn it)")
    p.add_argument("--json", action="store_true", help="print one JSON report object at the end")
    p.set_defaults(func=cmd_tune)


def cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    models = Models.open(settings)
    request = _request(args, settings, models)
    plan = plan_memory(request.base_path, request.rank, request.max_tokens)
    sys.stderr.write(f"edgemind: tune {request.model_id} -> {request.out_name}: {plan.line()}\n")
    check_fits(plan)
    cancel = CancelToken()
    with ctrl_c_cancels(cancel):  # a stop is TuneCancelled: "stopped", exit 130, the checkpoint kept
        report = tune(request, progress=_progress_printer(), cancel=cancel, export=export_lora)
    assert report.adapter_path is not None  # tune() exports whenever it is given an exporter
    manifest = adapter_manifest(report, report.adapter_path, models.get(request.model_id).sha256,
                                data_summary(request.examples, report))
    spec = models.add_adapter(manifest, report.adapter_path, move=True)
    # the tune is done and its adapter registered: its checkpoints would only let a rerun train it again
    shutil.rmtree(request.workdir, ignore_errors=True)
    if args.json:
        sys.stdout.write(json.dumps(dict(report.as_dict(), adapter_path=str(spec.adapter), model=spec.id,
                                         checkpoint=None), default=str) + "\n")
    else:
        sys.stdout.write(format_report(report) + f"adapter: `edgemind ask --model {spec.id} ...` "
                                                 f"({spec.adapter})\n")
    return EXIT_OK


def _request(args: argparse.Namespace, settings: Settings, models: Models) -> TuneRequest:
    if args.preset is not None and args.trainer != "hybrid":
        raise TuneDataError(f"--preset {args.preset} is a hybrid trainer setting: add --trainer hybrid")
    preset = args.preset or "conservative"
    check_trainer(args.trainer, preset)
    require_stack()
    examples: list[Example] = read_jsonl(Path(args.data).expanduser())
    split(examples)  # too few examples is bad input: refuse it before the model loads
    out = args.out or f"{args.model}-tuned"
    if not NAME.match(out):
        raise TuneDataError(f"--out {out!r}: use 1-64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
    spec = models.get(args.model)
    if spec.adapter is not None:
        raise TuneDataError(f"{spec.id!r} is a tuned adapter; tune its base model {spec.base_model!r} instead")
    try:
        models.get(out)
    except ModelNotFound:
        pass
    else:
        raise TuneDataError(f"a model named {out!r} already exists; pick another --out")
    path = models.prepare(spec)
    return TuneRequest(model_id=spec.id, base_path=path, examples=tuple(examples), rank=args.rank,
                       steps=args.steps or default_steps(len(examples)), lr=args.lr, out_name=out,
                       workdir=settings.home / TUNING_FOLDER / out,
                       checkpoint_every=args.checkpoint_every, threads=args.threads, trainer=args.trainer,
                       preset=preset)


def format_report(report: TuneReport) -> str:
    hb, ha, gb, ga = report.heldout_before, report.heldout_after, report.general_before, report.general_after
    resumed = f" (resumed from step {report.resumed_from})" if report.resumed_from else ""
    return "\n".join([
        f"tuned {report.model_id} -> {report.out_name}: {report.steps} steps{resumed}, "
        f"{report.seconds_per_step:.2f} s/step, {report.train_examples} examples trained, "
        f"{report.heldout_examples} held out",
        f"held-out loss {hb.loss:.3f} -> {ha.loss:.3f}, perplexity {hb.perplexity:.2f} -> {ha.perplexity:.2f}",
        f"general text perplexity {gb.perplexity:.2f} -> {ga.perplexity:.2f} ({report.general_ratio:.3f}x; "
        f"no-regression guard <= 1.05x: {'pass' if report.no_regression else 'FAIL'})",
    ] + _trainer_line(report)) + "\n"


def _trainer_line(report: TuneReport) -> list[str]:
    """For a hybrid tune: how many backward passes it ran, and how well its corrections did."""
    t = report.training
    if t.trainer != "hybrid":
        return []
    summary = t.correction_summary
    reduction = ("no correction measured" if summary.mean is None else
                 f"corrections removed {summary.mean:.0%} of the prediction error ({summary.count} measured)")
    return [f"hybrid trainer ({t.preset}): {t.backward_passes} backward passes for {report.steps} steps, "
            f"{t.predicted_steps} predicted, {t.divergences} divergences; {reduction}"]


def _progress_printer() -> Any:
    tty = sys.stderr.isatty()

    def show(p: TuneProgress) -> None:
        if p.phase != "training":
            line = f"edgemind: tune: {p.phase} …"
        else:
            eta = "" if math.isnan(p.eta_s) else f", about {_duration(p.eta_s)} left"
            line = f"edgemind: tune step {p.step}/{p.steps}, loss {p.loss:.4f}{eta}"
        sys.stderr.write(("\r\033[K" + line) if tty and p.phase == "training" else (line + "\n"))
        if tty and p.phase == "training" and p.step == p.steps:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"

