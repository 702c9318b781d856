"""EdgeMind's exception hierarchy: every error a user can cause or fix, with a message they can act on.

The CLI, API and GUI edges turn these into one line, a JSON error or a dialog; nothing else should leak out.
"""

from __future__ import annotations


class EdgeMindError(Exception):
    """Base class: the message is one line a user can read and act on."""

    kind = "error"
    # What the command line exits with (0 is success): 1 a failure, 2 bad input the user can correct, 130 stopped by
    # the user. `headline` is the word before the message on stderr.
    exit_code = 1
    headline = "error"

    def __str__(self) -> str:
        # One line, always: a multi-line message would break the CLI contract.
        return " ".join(super().__str__().split())


class ConfigError(EdgeMindError):
    kind = "config"


class ModelError(EdgeMindError):
    kind = "model"


class ModelNotFound(ModelError):
    kind = "model_not_found"


class ModelIntegrityError(ModelError):
    """A model file is missing, truncated, not GGUF, or does not match its pinned SHA-256."""

    kind = "model_integrity"


class AdapterMismatch(ModelError):
    """A LoRA adapter does not fit the model it is meant for: another architecture, other shapes, another scaling."""

    kind = "adapter_mismatch"


class DownloadError(ModelError):
    """A model pull failed before a verified file was installed: hub unreachable, not found, stopped, no disk space."""

    kind = "download"


class BackendUnavailable(EdgeMindError):
    """A backend's server or library is not there (Ollama down, OpenAI endpoint unreachable)."""

    kind = "backend_unavailable"


class PromptError(EdgeMindError):
    """The request itself is unusable: empty prompt, prompt that cannot fit the context."""

    kind = "bad_prompt"


class DistillError(EdgeMindError):
    """Distillation cannot run as asked: it is turned off, there is nothing to learn from, a bad option."""

    kind = "distill"
    exit_code = 2


class StoreError(EdgeMindError):
    """The conversation database cannot be opened or written."""

    kind = "store"


class ModelBusy(EdgeMindError):
    kind = "busy"


class NetworkRefused(EdgeMindError):
    """A network tool stopped before connecting: the address a host resolves to is one its grant does not name."""

    kind = "network_refused"


class AuditError(EdgeMindError):
    """The audit log cannot be trusted or used: a missing key, a rollback, an anchor that does not match."""

    kind = "audit"


class TuneError(EdgeMindError):
    """A tuning run cannot start or go on: not enough memory, a base model transformers cannot read."""

    kind = "tune"


class TuneUnavailable(TuneError):
    """The optional training stack (torch, transformers, peft, gguf) is not installed."""

    kind = "tune_unavailable"


class TuneDataError(TuneError):
    """The training data is unusable: a missing file, a line that is not JSON, a wrong shape, too few examples."""

    kind = "tune_data"
    exit_code = 2


class TuneCancelled(TuneError):
    """The user stopped a tuning run; its checkpoint is kept, and the same command resumes from it."""

    kind = "tune_cancelled"
    exit_code = 130
    headline = "stopped"


class PackError(EdgeMindError):
    """A personalization pack was refused: damaged, tampered, unsafe, for another base model, or from an unknown
    signer. Nothing was written."""

    kind = "pack"
    exit_code = 2


def error_for_kind(kind: str, message: str) -> EdgeMindError:
    """Rebuild the exception an error event stands for (events cross threads and processes as plain data)."""
    classes = [EdgeMindError]
    while classes:
        cls = classes.pop()
        if cls.kind == kind:
            return cls(message)
        classes.extend(cls.__subclasses__())
    return EdgeMindError(message)


class TrainingRefused(TuneError):
    """A training setting the current run has not earned or cannot use: the aggressive hybrid preset before its
    corrections are measured accurate enough, an unknown preset, a setting out of range."""

    kind = "training_refused"
    exit_code = 2


class ChatSettingsError(EdgeMindError):
    """A chat's settings or a saved preset cannot be used as given: a temperature out of range, an empty or unknown
    preset name, a system prompt too long to keep."""

    kind = "chat_settings"
    exit_code = 2
