"""One LoRA tune of a local GGUF model: train on the user's examples, measure before/after, checkpoint to resume.

The same function serves `edgemind tune` and distillation (which brings its own examples). It never writes outside
its work folder; a kill or a cancel leaves the last checkpoint there, and the same request resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ..errors import TuneCancelled, TuneDataError, TuneError
from ..training.accuracy import CorrectionRecord, CorrectionSummary, summarize
from ..training.config import PRESETS, startable
from ..training.hybrid import HybridTrainer, StepRecord
from ..training.plain import GradientFn, PlainTrainer
from .data import IGNORE, Encoded, Example, encode, split
from .memory import MemoryPlan, check_fits, plan_memory
from .stack import Base, load_base, lora_config, require_stack

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
GENERAL_TEXT = "general_text.txt"
GENERAL_CHUNK = 256  # tokens per window of the general text: short enough for a 135M model's first layers
REGRESSION_LIMIT = 1.05  # the adapter may cost at most 5% perplexity on text it was not tuned on
# Three passes over the training examples: on the 135M model and ten wordings of one fact, 20 steps at lr 3e-4 learn
# it within the guard (general text 1.01x) while 60 overfit (1.075x: benchmarks/tune.py --steps 60).
EPOCHS, MIN_STEPS, MAX_STEPS = 3, 20, 300
TRAINERS = ("plain", "hybrid")  # core/training/: every step a backward pass, or predicted steps between real ones
HYBRID_PRESETS = tuple(PRESETS)


def default_steps(examples: int, heldout_fraction: float = 0.15) -> int:
    """Steps for a tune of `examples` examples when the user names none (one training example a step)."""
    train = examples - max(1, round(examples * heldout_fraction))
    return max(MIN_STEPS, min(MAX_STEPS, EPOCHS * train))


class Cancel(Protocol):
    @property
    def cancelled(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class TuneRequest:
    """What to tune: which base file, on which examples, how hard, and where its checkpoints live."""

    model_id: str
    base_path: Path
    examples: tuple[Example, ...]
    rank: int = 8
    steps: int = MIN_STEPS
    lr: float = 1e-3
    out_name: str = "adapter"
    workdir: Path = Path("tune")
    alpha: float | None = None  # None: twice the rank, the usual LoRA scale
    heldout_fraction: float = 0.15
    seed: int = 0
    max_tokens: int = 512
    checkpoint_every: int = 10
    threads: int | None = None  # torch's intra-op threads; None leaves torch's default
    trainer: str = "plain"  # one of TRAINERS
    preset: str = "conservative"  # the hybrid trainer's preset (core/training/config.py); plain ignores it

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha) if self.alpha is not None else 2.0 * self.rank


@dataclass(frozen=True, slots=True)
class TuneProgress:
    """One training step done (or the phase a long pause is in: loading, measuring, exporting)."""

    phase: str
    step: int = 0
    steps: int = 0
    loss: float = math.nan
    eta_s: float = math.nan


@dataclass(frozen=True, slots=True)
class Evaluation:
    loss: float  # mean cross-entropy per predicted token, in nats
    perplexity: float
    tokens: int


@dataclass(frozen=True, slots=True)
class TrainerCounts:
    """What the step trainer did over the whole tune, a resumed one included: `backward_passes` of `steps` updates
    came from a real gradient (all of them for plain), the rest were predicted by the hybrid trainer."""

    trainer: str = "plain"
    preset: str | None = None
    backward_passes: int = 0
    forward_passes: int = 0
    predicted_steps: int = 0
    divergences: int = 0
    final_loss: float | None = None  # the training loss of the last step that computed one
    corrections: tuple[CorrectionRecord, ...] = ()

    @property
    def correction_summary(self) -> CorrectionSummary:
        return summarize(self.corrections)

    def as_dict(self) -> dict[str, Any]:
        summary = self.correction_summary
        return {"trainer": self.trainer, "preset": self.preset, "backward_passes": self.backward_passes,
                "forward_passes": self.forward_passes, "predicted_steps": self.predicted_steps,
                "divergences": self.divergences, "final_loss": self.final_loss,
                "mean_error_reduction": summary.mean, "corrections": asdict(summary)}


@dataclass(frozen=True, slots=True)
class TuneReport:
    model_id: str
    out_name: str
    base_path: Path
    arch: str
    rank: int
    alpha: float
    steps: int
    resumed_from: int
    train_examples: int
    heldout_examples: int
    heldout_before: Evaluation
    heldout_after: Evaluation
    general_before: Evaluation
    general_after: Evaluation
    seconds: float
    seconds_per_step: float
    memory: MemoryPlan
    checkpoint: Path
    adapter_path: Path | None = None
    losses: tuple[float, ...] = field(default=(), repr=False)  # per step; NaN where a predicted step computed none
    training: TrainerCounts = TrainerCounts()

    @property
    def general_ratio(self) -> float:
        return self.general_after.perplexity / self.general_before.perplexity

    @property
    def no_regression(self) -> bool:
        return self.general_ratio <= REGRESSION_LIMIT

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("losses", "memory", "training")}
        out.update(self.training.as_dict())
        out.update(memory=self.memory.as_dict(), general_ratio=round(self.general_ratio, 4),
                   no_regression="pass" if self.no_regression else "fail", regression_limit=REGRESSION_LIMIT,
                   base_path=str(self.base_path), checkpoint=str(self.checkpoint),
                   adapter_path=str(self.adapter_path) if self.adapter_path else None)
        return out


Progress = Callable[[TuneProgress], None]
# export_lora(peft_model, base_gguf, out, alpha): core/tuning/gguf_lora.py; injected so training is testable alone
Exporter = Callable[[Any, Path, Path, float], None]


def general_text() -> str:
    """The shipped plain-English prose the no-regression guard measures perplexity on (not training data)."""
    return resources.files("edgemind.resources").joinpath(GENERAL_TEXT).read_text(encoding="utf-8")


def tune(request: TuneRequest, progress: Progress | None = None, cancel: Cancel | None = None, *,
         base: Base | None = None, export: Exporter | None = None,
         gradient: GradientFn | None = None) -> TuneReport:
    """Train a LoRA adapter on request.examples and measure it; resume from the work folder's checkpoint if any.

    `base` lets a caller reuse a loaded model (it is left as it was found); `export` writes the GGUF adapter to
    <workdir>/adapter.gguf when given; `gradient` (plain trainer only) sees, and may replace, each step's flat
    gradient: how the benchmarks measure compressed gradients on the real tune. Raises TuneCancelled (checkpoint
    saved) when `cancel` is set mid-run."""
    require_stack()
    import torch

    show = progress or (lambda _p: None)
    _check_request(request)
    train, heldout = split(request.examples, request.heldout_fraction, request.seed)
    plan = plan_memory(request.base_path, request.rank, request.max_tokens)
    if base is None:
        check_fits(plan)
    if request.threads:
        torch.set_num_threads(request.threads)
    torch.manual_seed(request.seed)
    request.workdir.mkdir(parents=True, exist_ok=True)
    if base is None:
        show(TuneProgress("loading"))
        base = load_base(request.base_path)
    train_enc = [encode(e, base.tokenizer, request.max_tokens) for e in train]
    held_enc = [encode(e, base.tokenizer, request.max_tokens) for e in heldout]
    general_enc = _general_windows(base.tokenizer)

    from peft import get_peft_model

    with warnings.catch_warnings():  # peft calls a transformers API deprecated in 5.x: not the user's concern
        warnings.simplefilter("ignore", FutureWarning)
        model = get_peft_model(base.model, lora_config(request.rank, request.lora_alpha))
    try:
        return _run(request, model, base, train_enc, held_enc, general_enc, plan, show, cancel, export, gradient)
    finally:
        model.unload()  # takes the LoRA layers out again: a caller's shared base model is as it was
        base.model.eval()


def _run(request: TuneRequest, model: Any, base: Base, train: list[Encoded], heldout: list[Encoded],
         general: list[Encoded], plan: MemoryPlan, show: Progress, cancel: Cancel | None,
         export: Exporter | None, gradient: GradientFn | None = None) -> TuneReport:
    import torch

    started = time.monotonic()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=request.lr, weight_decay=0.0)
    path = request.workdir / CHECKPOINT
    fingerprint = _fingerprint(request)
    state = _load_checkpoint(path, fingerprint)
    if state is not None:
        _lora_weights(model, state["lora"])
        optimizer.load_state_dict(state["optimizer"])
        before = {k: Evaluation(**v) for k, v in state["before"].items()}
        losses: list[float] = list(state["losses"])
        step = int(state["step"])
        prior = _counts_from(state.get("trainer"), request, step)
        log.info("resuming %s from step %d", request.out_name, step)
    else:
        show(TuneProgress("measuring"))
        with model.disable_adapter():
            before = {"heldout": evaluate(model, heldout), "general": evaluate(model, general)}
        losses, step = [], 0
        prior = TrainerCounts(request.trainer, _preset_of(request))
    resumed_from = step
    # A hybrid trainer's dynamics model and phase are not checkpointed: a resumed hybrid tune starts its trainer
    # afresh (warm-up full steps first) from the checkpointed weights, and adds its counts to the saved ones.
    trainer = _step_trainer(request, model, optimizer, gradient)
    order = _order(len(train), request.seed)
    run_started, run_steps = time.monotonic(), 0
    shown = next((x for x in reversed(losses) if not math.isnan(x)), math.nan)
    model.train()
    while step < request.steps:
        if cancel is not None and cancel.cancelled:
            _save_checkpoint(path, model, optimizer, step, losses, before, fingerprint,
                             _counts(prior, trainer, resumed_from))
            raise TuneCancelled(f"tuning stopped at step {step} of {request.steps}; the checkpoint is kept in "
                                f"{request.workdir}: run the same command again to resume")
        done = trainer.step(train[order(step)])
        computed = done.loss if isinstance(done, StepRecord) else done
        if computed is not None:
            shown = loss = round(computed, 5)
        else:
            loss = math.nan  # a predicted step without a loss check: no loss was computed
        losses.append(loss)
        step += 1
        run_steps += 1
        per_step = (time.monotonic() - run_started) / run_steps
        show(TuneProgress("training", step, request.steps, shown, per_step * (request.steps - step)))
        if step % request.checkpoint_every == 0 or step == request.steps:
            _save_checkpoint(path, model, optimizer, step, losses, before, fingerprint,
                             _counts(prior, trainer, resumed_from))
    model.eval()
    show(TuneProgress("measuring", step, request.steps))
    after = {"heldout": evaluate(model, heldout), "general": evaluate(model, general)}
    adapter_path = None
    if export is not None:
        show(TuneProgress("exporting", step, request.steps))
        adapter_path = request.workdir / "adapter.gguf"
        export(model, request.base_path, adapter_path, request.lora_alpha)
    seconds = time.monotonic() - started
    return TuneReport(
        model_id=request.model_id, out_name=request.out_name, base_path=request.base_path, arch=base.arch,
        rank=request.rank, alpha=request.lora_alpha, steps=step, resumed_from=resumed_from, train_examples=len(train),
        heldout_examples=len(heldout), heldout_before=before["heldout"], heldout_after=after["heldout"],
        general_before=before["general"], general_after=after["general"], seconds=round(seconds, 2),
        seconds_per_step=round((time.monotonic() - run_started) / run_steps, 3) if run_steps else 0.0,
        memory=plan, checkpoint=path, adapter_path=adapter_path, losses=tuple(losses),
        training=_counts(prior, trainer, resumed_from))


def evaluate(model: Any, examples: Sequence[Encoded]) -> Evaluation:
    """Mean cross-entropy over the labelled tokens of every example (the answers; all of a general text window)."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for example in examples:
            loss, n = _loss(model, example)
            total += float(loss) * n
            count += n
    mean = total / count if count else math.nan
    return Evaluation(loss=round(mean, 5), perplexity=round(math.exp(mean), 4) if count else math.nan, tokens=count)


def _loss(model: Any, example: Encoded) -> tuple[Any, int]:
    import torch

    ids = torch.tensor([example.input_ids])
    labels = torch.tensor([example.labels])
    logits = model(input_ids=ids).logits[:, :-1, :]
    targets = labels[:, 1:]
    n = int((targets != IGNORE).sum())
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                             ignore_index=IGNORE)
    return loss, n


def _example_loss(model: Any, example: Encoded) -> Any:
    """The step trainers' loss function: the mean cross-entropy over the example's answer tokens."""
    return _loss(model, example)[0]


def _step_trainer(request: TuneRequest, model: Any, optimizer: Any,
                  gradient: GradientFn | None = None) -> PlainTrainer | HybridTrainer:
    """The trainer each step goes through: both have the same step()/report() surface (core/training/)."""
    if request.trainer == "hybrid":
        return HybridTrainer(model, optimizer, _example_loss, startable(request.preset))
    return PlainTrainer(model, optimizer, _example_loss, gradient)


def _preset_of(request: TuneRequest) -> str | None:
    return request.preset if request.trainer == "hybrid" else None


def _counts(prior: TrainerCounts, trainer: PlainTrainer | HybridTrainer, offset: int) -> TrainerCounts:
    """The counts before this run's resume point plus this run's; correction steps are numbered over the tune."""
    report = trainer.report()
    mine = trainer.corrections if isinstance(trainer, HybridTrainer) else []
    shifted = tuple(CorrectionRecord(r.step + offset, r.prediction_error, r.corrected_error, r.error_reduction)
                    for r in mine)
    last = report.last_loss if report.last_loss is not None else prior.final_loss
    return TrainerCounts(
        trainer=prior.trainer, preset=prior.preset, backward_passes=prior.backward_passes + report.backward_passes,
        forward_passes=prior.forward_passes + report.forward_passes,
        predicted_steps=prior.predicted_steps + report.predicted_steps,
        divergences=prior.divergences + report.divergences,
        final_loss=round(last, 5) if last is not None else None, corrections=prior.corrections + shifted)


def _counts_from(saved: dict[str, Any] | None, request: TuneRequest, step: int) -> TrainerCounts:
    """The counts a checkpoint kept; a checkpoint from before they were kept is a plain run's: a backward a step."""
    if saved is None:
        return TrainerCounts("plain", None, backward_passes=step, forward_passes=step)
    records = tuple(CorrectionRecord(**r) for r in saved.pop("corrections"))
    return TrainerCounts(**saved, corrections=records)


def _order(count: int, seed: int) -> Callable[[int], int]:
    """Which training example step s uses: a fresh seeded shuffle each epoch, so a resumed run sees the same order."""
    epochs: dict[int, list[int]] = {}

    def index(step: int) -> int:
        epoch, within = divmod(step, count)
        if epoch not in epochs:
            perm = list(range(count))
            random.Random(seed * 1_000_003 + epoch).shuffle(perm)
            epochs[epoch] = perm
        return epochs[epoch][within]

    return index


def _general_windows(tokenizer: Any) -> list[Encoded]:
    ids = list(tokenizer(general_text(), add_special_tokens=False)["input_ids"])
    windows = [tuple(ids[i:i + GENERAL_CHUNK]) for i in range(0, len(ids), GENERAL_CHUNK)]
    return [Encoded(w, w) for w in windows if len(w) > 1]


def _check_request(request: TuneRequest) -> None:
    if request.rank < 1 or request.rank > 256:
        raise TuneDataError(f"LoRA rank {request.rank} must be between 1 and 256")
    if request.steps < 1:
        raise TuneDataError(f"steps {request.steps} must be at least 1")
    if not 0.0 < request.lr < 1.0:
        raise TuneDataError(f"learning rate {request.lr} must be between 0 and 1")
    check_trainer(request.trainer, request.preset)
    if not request.base_path.is_file():
        raise TuneError(f"base model file {request.base_path} does not exist")


def check_trainer(trainer: str, preset: str) -> None:
    """Refuse an unknown trainer, or a hybrid preset no run may start with (unknown, or aggressive before its
    corrections earn it: the trainer's own rule), in one line and before any model loads."""
    if trainer not in TRAINERS:
        raise TuneDataError(f"unknown trainer {trainer!r}: choose {' or '.join(TRAINERS)}")
    if trainer == "hybrid":
        startable(preset)


def _fingerprint(request: TuneRequest) -> str:
    """What a checkpoint was trained on: a rerun with other data, rank or base starts afresh (steps may grow)."""
    stat = request.base_path.stat()
    what = {"base": [request.base_path.name, stat.st_size], "rank": request.rank, "alpha": request.lora_alpha,
            "lr": request.lr, "seed": request.seed, "heldout": request.heldout_fraction,
            "examples": [[e.chat(), e.answer] for e in request.examples]}
    if request.trainer != "plain":  # a plain checkpoint keeps its fingerprint from before trainers were chosen
        what["trainer"] = [request.trainer, request.preset]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def _lora_weights(model: Any, weights: dict[str, Any] | None = None) -> dict[str, Any]:
    """The trainable (LoRA) tensors by name; with `weights`, load those into the model first."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if weights is not None:
        import torch

        if set(weights) != set(params):
            raise TuneError("the checkpoint does not fit this model; delete it to start over")
        with torch.no_grad():
            for name, tensor in weights.items():
                params[name].copy_(tensor)
    return {n: p.detach().clone() for n, p in params.items()}


def _save_checkpoint(path: Path, model: Any, optimizer: Any, step: int, losses: list[float],
                     before: dict[str, Evaluation], fingerprint: str, counts: TrainerCounts) -> None:
    """Written to a temporary file and renamed: a kill mid-write leaves the previous checkpoint whole."""
    import torch

    trainer = {k: v for k, v in asdict(counts).items() if k != "corrections"}
    trainer["corrections"] = [asdict(r) for r in counts.corrections]
    state = {"version": 1, "fingerprint": fingerprint, "step": step, "losses": losses,
             "before": {k: asdict(v) for k, v in before.items()}, "lora": _lora_weights(model),
             "optimizer": optimizer.state_dict(), "trainer": trainer}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    import torch

    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged file; a damaged checkpoint only costs time
        log.warning("ignoring unreadable checkpoint %s (%s); starting over", path, exc.__class__.__name__)
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        log.warning("checkpoint %s was made for other data or settings; starting over", path)
        return None
    return state
