"""The first two hybrid-trainer tasks: scikit-learn's digits (1,797 8x8 images, shipped inside the package, no
download) with a small MLP and a small CNN. torch and scikit-learn come with the `[tune]` extra."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .stack import require_torch, unavailable

TASKS = ("mlp", "cnn")


@dataclass(frozen=True, slots=True)
class Digits:
    """Train and test tensors: x as (n, 1, 8, 8) floats in [0, 1], y as class indices."""

    train_x: Any
    train_y: Any
    test_x: Any
    test_y: Any


def load_digits(seed: int = 0, test_fraction: float = 0.25) -> Digits:
    """The digits set split by a seeded permutation (stratification is not needed at 1,797 images)."""
    require_torch()
    try:
        from sklearn.datasets import load_digits as sklearn_digits  # third-party, optional extra
    except ImportError as exc:
        raise unavailable("scikit-learn") from exc
    import torch  # third-party, optional extra

    data = sklearn_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(len(y) * (1 - test_fraction))
    return Digits(x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]])


def build_model(task: str, seed: int) -> Any:
    """A fresh, seeded model for `task`: "mlp" (64-64-10) or "cnn" (two 3x3 convolutions, a pool, a linear)."""
    import torch  # third-party, optional extra
    from torch import nn  # third-party, optional extra

    torch.manual_seed(seed)
    if task == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    if task == "cnn":
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 4 * 4, 10))
    raise ValueError(f"unknown task {task!r}: {', '.join(TASKS)}")


def cross_entropy(model: Any, batch: tuple[Any, Any]) -> Any:
    """The loss both trainers minimise: mean cross-entropy of the batch (x, y)."""
    from torch.nn import functional  # third-party, optional extra

    x, y = batch
    return functional.cross_entropy(model(x), y)


def evaluate(model: Any, x: Any, y: Any) -> tuple[float, float]:
    """(loss, accuracy) of the model on (x, y), without gradients."""
    import torch  # third-party, optional extra

    with torch.no_grad():
        logits = model(x)
        loss = float(torch.nn.functional.cross_entropy(logits, y))
        accuracy = float((logits.argmax(dim=1) == y).float().mean())
    return loss, accuracy
