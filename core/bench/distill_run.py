"""The distillation benchmark: the bundled Qwen 0.5B teaches the 135M SmolLM2 on generated verifiable tasks
(arithmetic, JSON shape, tiny Python functions); the student with its adapter against the base student on the
newest tasks, held out, by the same verifiers, with an exact paired test.

    .venv/bin/python benchmarks/distill.py --json benchmarks/results/distill.json

Teacher sampling runs in llama.cpp through the engine (its verified model files); the calculator and the code runner
are the installed tools behind the engine's permission broker; both students answer greedily in transformers, the
tuned one with the LoRA weights the trainer wrote, so the comparison measures the tune and nothing else.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..engine import Engine, Tools
from ..settings import load_settings
from ..tuning.distill.collect import Item, split_newest
from ..tuning.distill.engine_models import engine_generator
from ..tuning.distill.job import DistillJob, DistillPlan
from ..tuning.distill.students import PEFT_DIR, StudentPair, save_peft
from ..tuning.distill.tasks import generate_tasks
from ..tuning.distill.teacher import Teacher
from ..tuning.distill.tuning import TuneSettings, trainer_tuner
from ..tuning.distill.verifiers import Verifiers, tool_runner
from ..tuning.stack import load_base
from .script import write_result

TEACHER, STUDENT = "qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    timings: dict[str, float] = {}
    tasks = generate_tasks(args.tasks, seed=args.seed)
    split = split_newest([Item(t.prompt, t.check) for t in tasks], args.heldout)
    env = {k: v for k, v in os.environ.items() if k.startswith("EDGEMIND_")}
    env.setdefault("EDGEMIND_AUDIT_KEY_STORE", "file")
    env.setdefault("EDGEMIND_HOME", str(workdir / "home"))
    env["EDGEMIND_CACHE"] = "0"
    env["EDGEMIND_THREADS"] = str(args.threads)
    engine = Engine.create(load_settings(env=env))
    engine.summarize_in_background = False
    tools = Tools(engine.open_tools(grants=["code.exec"]))  # the benchmark's own data folder: its grant alone
    try:
        verifiers = Verifiers.standard(tool_runner(tools), judge=None)
        teacher = Teacher(engine_generator(engine, args.teacher, temperature=args.temperature,
                                           max_tokens=args.teacher_tokens), verifiers, k=args.k, seed=args.seed)
        student_path = engine.models.prepare(engine.models.get(args.student))
        started = time.monotonic()
        base = load_base(student_path)
        timings["load_student_s"] = time.monotonic() - started
        out = workdir / "out"
        tuner = trainer_tuner(TuneSettings(args.student, student_path, "distilled", out / "tune", steps=args.steps,
                                           rank=args.rank, lr=args.lr, seed=args.seed, threads=args.threads),
                              base=base, export=save_peft(out / PEFT_DIR),
                              progress=lambda p: print(f"tune {p.phase} {p.step}/{p.steps} loss {p.loss:.3f}",
                                                       file=sys.stderr, flush=True) if p.step % 10 == 0 else None)
        pair: list[StudentPair] = []

        def students(model_id: str) -> Any:
            if not pair:
                pair.append(StudentPair(base, out / PEFT_DIR))
            return pair[0].generator(adapter=model_id != args.student, max_new_tokens=args.student_tokens)

        job = DistillJob(DistillPlan(args.student, "distilled", split), teacher, tuner, students, verifiers, out)
        started = time.monotonic()
        report = job.run()
        timings["total_s"] = time.monotonic() - started
        assert report is not None
    finally:
        tools.close()
        engine.close()
    taught = job.taught()
    return {"report": report, "timings": {k: round(v, 1) for k, v in timings.items()},
            "teacher_pass": {"prompts": len(taught), "with_a_passing_sample": sum(1 for r in taught.values()
                                                                                 if r.get("answer")),
                             "passing_samples": sum(int(r.get("passed_samples", 0)) for r in taught.values()),
                             "samples": len(taught) * args.k}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/distill.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=40)
    ap.add_argument("--heldout", type=float, default=0.5, help="the newest fraction held out")
    ap.add_argument("--k", type=int, default=2, help="teacher samples per prompt")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--teacher", default=TEACHER)
    ap.add_argument("--student", default=STUDENT)
    ap.add_argument("--teacher-tokens", type=int, default=160)
    ap.add_argument("--student-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the work here (resumes a killed run)")
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    args = ap.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgemind-distill-") as tmp:
        result = run(args, args.workdir or Path(tmp))
    result["timings"]["wall_clock_s"] = round(time.monotonic() - started, 1)  # engine start and model loads too
    result.update({"kind": "distill", "teacher": args.teacher, "student": args.student, "tasks": args.tasks,
                   "heldout_fraction": args.heldout, "k": args.k, "steps": args.steps, "rank": args.rank,
                   "lr": args.lr, "seed": args.seed, "temperature": args.temperature, "threads": args.threads,
                   "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical cores",
                   "command": [".venv/bin/python", "benchmarks/distill.py", "--tasks", str(args.tasks), "--heldout",
                               str(args.heldout), "--k", str(args.k), "--steps", str(args.steps), "--json",
                               "benchmarks/results/distill.json"]})
    held = result["report"]["heldout"]
    print(f"held-out {held['n']}: base {held['base_passed']}, tuned {held['tuned_passed']} (tuned only "
          f"{held['tuned_only']}, base only {held['base_only']}, sign test p={held['sign_test_p_one_sided']})")
    if args.json_out:
        write_result(args.json_out, result)
        print(f"wrote {args.json_out}")
    return 0
