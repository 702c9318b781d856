"""How one setting is declared: its help, environment variable, valid values and whether the GUI shows it.

`setting(...)` is the default of a `Settings` field; the field's name, type annotation and default complete it.
Never imports the rest of EdgeMind: the declaration sits at the bottom of the settings package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, replace
from pathlib import Path
from typing import Any, get_args, get_origin

KEY = "edgemind.setting"  # the dataclass field metadata key that holds a field's Setting


@dataclass(frozen=True, slots=True)
class Setting:
    """Everything about one key of `settings.toml`; `name`, `type` and `default` come from its `Settings` field."""

    help: str
    env: str | None = None  # the EDGEMIND_* variable that overrides the file
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    what: str = ""  # the noun in error messages: "a number of megabytes"; default "an integer" / "a number"
    zero: str = ""  # what 0 means, when it means something special: "physical cores", "off"
    expected: str = ""  # a valid value in words, where range and choices cannot say it (with `check`)
    check: Callable[[Any], bool] | None = None
    convert: Callable[[Any], Any] | None = None  # applied to a valid value before it reaches Settings
    under_home: str = ""  # a folder setting whose default is this folder in the data folder
    in_file: bool = True  # False: only the environment sets it (the data folder, which holds the file)
    secret: bool = False  # never printed
    gui: bool = False  # the desktop app's settings page edits it
    name: str = ""
    type: Any = object  # the field's annotation, resolved: int, float | None, tuple[str, ...]
    default: Any = None

    @property
    def base(self) -> type:
        """The value's type without `| None` or tuple's item type: bool, int, float, str, Path or tuple."""
        kind = self.type
        args = [a for a in get_args(kind) if a is not type(None)]
        if get_origin(kind) is not None and get_origin(kind) is not tuple and len(args) == 1:
            kind = args[0]  # X | None
        return get_origin(kind) or kind

    @property
    def has_default(self) -> bool:
        return self.default is not MISSING

    def describe_valid(self) -> str:
        """A valid value in words, as error messages and the README say it."""
        if self.expected:
            return self.expected
        if self.base is bool:
            return "true or false"
        if self.choices:
            return _either(self.choices)
        what = self.what or ("an integer" if self.base is int else "a number")
        if self.maximum is None:
            return f"{what} >= {self.minimum}" + (f" ({self.minimum}: {self.zero})" if self.zero else "")
        low = f"{self.minimum} ({self.zero})" if self.zero else f"{self.minimum}"
        return f"{what} from {low} to {self.maximum}"

    def accepts(self, value: Any) -> bool:
        """True when `value` (as TOML, the environment after parsing, or Python gives it) is valid for this key."""
        if not self._type_ok(value):
            return False
        if self.choices and value not in self.choices:
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is not None and value > self.maximum:
            return False
        if self.check is not None:
            return bool(self.check(value))
        return not isinstance(value, (str, Path)) or bool(str(value).strip())

    def _type_ok(self, value: Any) -> bool:
        base = self.base
        if base is bool:
            return isinstance(value, bool)
        if isinstance(value, bool):  # True is an int to Python, never to a user
            return False
        if base is float:
            return isinstance(value, (int, float))
        if base is Path:
            return isinstance(value, (str, Path))
        if base is tuple:
            return isinstance(value, (list, tuple))
        return isinstance(value, base)


def setting(default: Any = MISSING, **declared: Any) -> Any:
    """Declare a `Settings` field: `threads: int = setting(0, help=..., env=..., minimum=0, maximum=512)`."""
    return field(default=default, metadata={KEY: Setting(**declared)})


def complete(declared: Setting, name: str, annotation: Any, default: Any) -> Setting:
    full = replace(declared, name=name, type=annotation, default=default)
    if full.base in (str, Path, tuple) and not (full.expected or full.choices):
        raise TypeError(f"setting {name}: a {full.base.__name__} setting needs `expected` or `choices`")
    if full.env and full.base is tuple:
        raise TypeError(f"setting {name}: a list cannot come from an environment variable")
    return full


def _either(options: tuple[str, ...]) -> str:
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"
