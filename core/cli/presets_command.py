"""The `edgemind presets` command (list, show, save, delete saved chat presets) and the one way `ask` and `chat`
read `--preset NAME`. Thin: the presets live in the database (core.engine.Presets); a bad name or value is a
ChatSettingsError, which the command line reports as bad input (exit 2)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..engine import ChatSettings, Models, Preset, Presets
from ..errors import ModelNotFound
from ..settings import Settings
from .output import EXIT_OK, print_json


def add_command(sub: Any, temperature: Any) -> None:
    """`temperature`: the argparse type that checks 0 to 2, shared with `edgemind ask`."""
    p = sub.add_parser("presets", help="saved chat presets: a name for a model, temperature, system prompt and tools")
    psub = p.add_subparsers(title="presets commands", metavar="ACTION", required=True)
    pl = psub.add_parser("list", help="every saved preset")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=cmd_presets_list)
    ps = psub.add_parser("show", help="one preset's settings")
    ps.add_argument("name")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_presets_show)
    pv = psub.add_parser("save", help="save a preset (one of the same name is replaced)")
    pv.add_argument("name")
    pv.add_argument("--model", help="model id (default: Auto, the router chooses)")
    pv.add_argument("--temperature", type=temperature, help="0 to 2 (default: the intent's, 0 for math)")
    pv.add_argument("--system", help="system prompt (default: the intent's own)")
    pv.add_argument("--no-tools", action="store_true", help="offer no tool to chats using this preset")
    pv.add_argument("--json", action="store_true")
    pv.set_defaults(func=cmd_presets_save)
    pd = psub.add_parser("delete", help="delete a preset")
    pd.add_argument("name")
    pd.add_argument("--json", action="store_true")
    pd.set_defaults(func=cmd_presets_delete)


def preset_settings(settings: Settings, name: str) -> ChatSettings:
    """The preset's settings for `--preset NAME`, with what can no longer be used (a removed model) put back to its
    default and said on stderr, one line each; an unknown name raises ChatSettingsError listing the saved ones."""
    preset = Presets.open(settings).get(name)
    models = Models.open(settings)

    def has_model(model_id: str) -> bool:
        try:
            models.get(model_id)
        except ModelNotFound:
            return False
        return True

    usable, notes = preset.settings.usable(has_model)
    for note in notes:
        sys.stderr.write(f"edgemind: warning: preset {preset.name!r}: {note}\n")
    return usable


def _row(preset: Preset) -> dict[str, Any]:
    return {"name": preset.name, **preset.settings.as_dict()}


def _line(preset: Preset) -> str:
    c = preset.settings
    temperature = "auto" if c.temperature is None else f"{c.temperature:g}"
    system = "intent's" if c.system_prompt is None else json.dumps(" ".join(c.system_prompt.split())[:60],
                                                                   ensure_ascii=False)
    return (f"{preset.name:<24} model {c.model or 'auto'}, temperature {temperature}, system prompt {system}, "
            f"tools {'on' if c.tools else 'off'}")


def cmd_presets_list(args: argparse.Namespace, settings: Settings) -> int:
    presets = Presets.open(settings).list()
    if args.json:
        print_json([_row(p) for p in presets])
    elif not presets:
        print("no presets saved yet (save one with `edgemind presets save NAME ...` or in the chat window)")
    for p in [] if args.json else presets:
        print(_line(p))
    return EXIT_OK


def cmd_presets_show(args: argparse.Namespace, settings: Settings) -> int:
    preset = Presets.open(settings).get(args.name)
    if args.json:
        print_json(_row(preset))
    else:
        print(_line(preset))
        if preset.settings.system_prompt:
            print(preset.settings.system_prompt)
    return EXIT_OK


def cmd_presets_save(args: argparse.Namespace, settings: Settings) -> int:
    model = Models.open(settings).get(args.model).id if args.model else None  # an unknown id: one line naming them
    preset = Presets.open(settings).save(args.name, ChatSettings(model, args.temperature, args.system,
                                                                 tools=not args.no_tools))
    if args.json:
        print_json(_row(preset))
    else:
        print(f"saved {_line(preset)}")
    return EXIT_OK


def cmd_presets_delete(args: argparse.Namespace, settings: Settings) -> int:
    Presets.open(settings).delete(args.name)
    if args.json:
        print_json({"deleted": args.name})
    else:
        print(f"deleted preset {args.name!r}")
    return EXIT_OK
