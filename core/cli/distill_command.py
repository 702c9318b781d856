"""`edgemind distill`: learn from the user's own answered prompts (run), and keep a conversation out of it
(exclude / include). Thin: core/tuning/distill does the work; bad options exit 2 with one line before any model loads.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..backends.base import CancelToken
from ..engine import Conversations, Engine, Tools
from ..settings import Settings
from ..tuning.distill.collect import collect, split_newest
from ..tuning.distill.service import Distillation, DistillOptions
from .interrupts import ctrl_c_cancels
from .output import EXIT_INTERRUPTED, EXIT_OK, print_json


def add_command(sub: Any) -> None:
    p = sub.add_parser("distill", help="tune a small model on a bigger one's verified answers to your own prompts")
    dsub = p.add_subparsers(title="distill commands", metavar="ACTION", required=True)

    run = dsub.add_parser("run", help="teach, tune and evaluate now (resumes a stopped run of the same --out)",
                          description="The teacher samples K answers to each of your answered prompts (the newest "
                                      "held out), the best verified one is kept, the student is tuned on them and "
                                      "evaluated against itself untuned on the held-out prompts.")
    run.add_argument("--teacher", help="the teaching model's id (default: the default model)")
    run.add_argument("--student", required=True, help="the model id to tune")
    run.add_argument("--out", default="distilled", help="the adapter's name (default: distilled)")
    run.add_argument("--k", type=int, default=3, help="teacher samples per prompt (default 3)")
    run.add_argument("--steps", type=int, default=90, help="training steps (default 90)")
    run.add_argument("--rank", type=int, default=8, help="LoRA rank (default 8)")
    run.add_argument("--heldout", type=float, default=0.25, help="the newest fraction of prompts held out (0.25)")
    run.add_argument("--no-judge", action="store_true",
                     help="only prompts a calculator, schema or tests can check (the teacher judges no others)")
    run.add_argument("--background", action="store_true",
                     help="work only while the computer is idle and on AC power, pausing whenever it is in use")
    run.add_argument("--json", action="store_true", help="print the report as one JSON object")
    run.set_defaults(func=cmd_distill_run)

    for action, excluded in (("exclude", True), ("include", False)):
        sw = dsub.add_parser(action, help=f"{'keep a conversation out of' if excluded else 'let it back into'} "
                                          "distillation")
        sw.add_argument("conversation", help="the conversation's id or a unique prefix (see `edgemind history list`)")
        sw.add_argument("--json", action="store_true")
        sw.set_defaults(func=cmd_distill_exclude, excluded=excluded)


def cmd_distill_exclude(args: argparse.Namespace, settings: Settings) -> int:
    conversations = Conversations.open(settings)
    conversation_id = conversations.resolve(args.conversation)
    conversations.exclude_from_distillation(conversation_id, args.excluded)
    if args.json:
        print_json({"conversation": conversation_id, "excluded": args.excluded})
    else:
        print(f"{conversation_id}: {'excluded from' if args.excluded else 'included in'} distillation")
    return EXIT_OK


def cmd_distill_run(args: argparse.Namespace, settings: Settings) -> int:
    options = DistillOptions(teacher=args.teacher or settings.default_model, student=args.student,
                             out_name=args.out, k=args.k, steps=args.steps, rank=args.rank, judge=not args.no_judge,
                             threads=settings.threads)
    options.check()
    split = split_newest(collect(Conversations.open(settings).answered_prompts(), enabled=settings.distill_enabled),
                         args.heldout)

    def show(p: Any) -> None:  # a TuneProgress
        if not args.json:
            sys.stderr.write(f"\r{p.phase} {p.step}/{p.steps}")

    engine = Engine.create(settings)
    tools = Tools(engine.open_tools())  # stored grants only: code checks run where the user granted code.exec
    try:
        distillation = Distillation(engine, tools, split, options, settings.home / "distill" / options.out_name,
                                    progress=show)
        cancel = CancelToken()
        with ctrl_c_cancels(cancel):  # Ctrl-C pauses: what is taught and the tune's checkpoint are kept
            def stopped() -> bool:
                return cancel.cancelled

            report = distillation.run_in_background(stopped) if args.background else distillation.run(stopped)
        if report is not None:
            report["adapter_file"] = str(distillation.register(report))
    finally:
        tools.close()
        engine.close()
    if report is None:
        sys.stderr.write("edgemind: distillation paused; run the same command again to resume\n")
        return EXIT_INTERRUPTED
    if args.json:
        print_json(report)
    else:
        held = report["heldout"]
        print(f"\nheld-out prompts: {held['n']}; passed untuned {held['base_passed']}, tuned {held['tuned_passed']} "
              f"(sign test p = {held['sign_test_p_one_sided']}); ask it as `edgemind ask --model {args.out} ...`")
    return EXIT_OK
