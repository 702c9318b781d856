"""The labelled-prompt classifier routing and safety share: labelled JSON-lines files (`labelled`), softmax regression
with a nearest-neighbour vote over feature rows (`softmax`), cached trained arrays (`model_file`) and TOML policy files
merged over the shipped ones (`policy_file`). It knows no intent, category or threshold: `core.routing` and
`core.safety` bring their labels, features and settings."""

from .json_lines import read_objects
from .labelled import LabelledPrompt, LabelSet, read_labelled
from .model_file import content_key, save_arrays
from .policy_file import MergedPolicy, PolicySource, config_error, read_policy, require, resource_path
from .softmax import Fit, Vote, blend, fit_softmax, softmax, vote

__all__ = [
    "Fit", "LabelSet", "LabelledPrompt", "MergedPolicy", "PolicySource", "Vote", "blend", "config_error",
    "content_key", "fit_softmax", "read_labelled", "read_objects", "read_policy", "require", "resource_path",
    "save_arrays", "softmax", "vote",
]
