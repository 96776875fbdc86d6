"""A condensed image set as an artifact, readable by every image domain and every audit.

Tensors: ``x`` (N×C×H×W, normalised like the source data), ``y`` (N int64 labels, or N×L float for
multi-label tasks), for trajectory methods ``lr`` (the learned learning rate, a 0-d tensor) and, for
relabelling methods (SRe2L), ``soft`` (N×K soft labels from a teacher, rows summing to 1; the card's
``labels`` records ``{"kind": "soft", "temperature": T}`` and the students are trained on them). The
card's ``task`` is ``"image_classification"`` whatever the domain (``medical``, ``privacy``, ``robust``),
and ``source`` records ``dataset``, ``num_classes``, ``task`` (MedMNIST's task name), ``channels``,
``im_size``, ``mean`` and ``std``, so an audit can load the matching real data and models that fit.
The card's ``init`` records which real training rows seeded the set (``train_indices``: one row of the
source's training split per synthetic image, or ``None`` when no real image seeded it);
:meth:`CondensedImages.seed_rows` reads it and loading checks it against ``x`` and ``source.train_size``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from condensekit.core.artifact import load_artifact, save_artifact
from condensekit.core.vision.splits import ImageSplits

IMAGE_TASK = "image_classification"


def image_source(data: ImageSplits) -> dict[str, Any]:
    """The card's ``source`` for a set condensed from ``data``."""
    return {
        "dataset": data.name,
        "num_classes": data.num_classes,
        "task": data.task,
        "channels": data.channels,
        "im_size": list(data.im_size),
        "mean": list(data.mean),
        "std": list(data.std),
        "train_size": int(data.x_train.shape[0]),
    }


@dataclass
class CondensedImages:
    """Synthetic images, their labels, an optional learned learning rate, optional soft labels, and the card."""

    x: Tensor
    y: Tensor
    card: dict[str, Any] = field(default_factory=dict)
    lr: Tensor | None = None
    soft: Tensor | None = None

    def tensors(self) -> dict[str, Tensor]:
        out = {"x": self.x.detach(), "y": self.y.detach()}
        if self.lr is not None:
            out["lr"] = self.lr.detach().reshape(())
        if self.soft is not None:
            out["soft"] = self.soft.detach()
        return out

    @property
    def temperature(self) -> float:
        """The softmax temperature of ``soft`` (the card's ``labels.temperature``; 1 without one)."""
        return float((self.card.get("labels") or {}).get("temperature", 1.0))

    def targets(self) -> Tensor:
        """What students train on: the soft labels when the set has them, else ``y``."""
        return self.y if self.soft is None else self.soft

    def seed_rows(self) -> Tensor | None:
        """The real training rows that seeded the set (the card's ``init.train_indices``, then any
        ``init.reinit_train_indices`` not among them; int64), or ``None`` when
        no real image seeded it. A card without an ``init`` record raises ``ValueError``: it was made before image
        cards recorded their seeds, so it must be re-made to be audited on them."""
        init = self.card.get("init")
        if not isinstance(init, dict) or "train_indices" not in init:
            raise ValueError(
                "this artifact's card has no `init` record (which real training rows seeded the set): it predates "
                "the record; re-make the set with condense_images (or a domain command) to get one"
            )
        rows = init["train_indices"]
        if rows is None:
            return None
        # Rows a method copied in later (PTM's overlap mitigation: ``reinit_train_indices``) seeded images too.
        seen = set(rows)
        extra = [r for r in init.get("reinit_train_indices") or [] if r not in seen]
        return torch.tensor(list(rows) + extra, dtype=torch.long)

    def save(self, path: str | os.PathLike[str]) -> Path:
        card = dict(self.card)
        card.setdefault("task", IMAGE_TASK)
        return save_artifact(path, self.tensors(), card)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, domain: str | None = None, purpose: str | None = None
    ) -> CondensedImages:
        """Load an image artifact of any domain (or of ``domain``); a non-image artifact is refused."""
        art = load_artifact(path, domain=domain, purpose=purpose, task=IMAGE_TASK)
        x, y = art.tensors["x"], art.tensors["y"]
        if x.dim() != 4 or x.shape[0] != y.shape[0]:
            raise ValueError(f"artifact at {str(path)!r}: x {list(x.shape)} and y {list(y.shape)} are not N×C×H×W, N")
        src = art.card["source"]
        want = [src.get("channels"), *src.get("im_size", [])]
        if want != list(x.shape[1:]):
            raise ValueError(f"artifact at {str(path)!r}: x is {list(x.shape[1:])} per image but its card says {want}")
        rows = (art.card.get("init") or {}).get("train_indices")
        n_train = src.get("train_size")
        reinit = (art.card.get("init") or {}).get("reinit_train_indices") or []
        if reinit and n_train is not None and not 0 <= min(reinit) <= max(reinit) < n_train:
            raise ValueError(
                f"artifact at {str(path)!r}: its card's init.reinit_train_indices name rows outside the training "
                f"split (0..{n_train - 1})"
            )
        if rows is not None and (
            len(rows) != x.shape[0] or (n_train is not None and rows and not 0 <= min(rows) <= max(rows) < n_train)
        ):
            raise ValueError(
                f"artifact at {str(path)!r}: its card's init.train_indices ({len(rows)} rows) do not name one training "
                f"row (< {n_train}) per synthetic image ({x.shape[0]})"
            )
        lr = art.tensors.get("lr")
        soft = art.tensors.get("soft")
        if soft is not None:
            k = src.get("num_classes")
            if soft.dim() != 2 or soft.shape[0] != x.shape[0] or (k is not None and soft.shape[1] != k):
                raise ValueError(
                    f"artifact at {str(path)!r}: soft labels are {list(soft.shape)}, expected [{x.shape[0]}, {k}]"
                )
        return cls(x=x, y=y, card=art.card, lr=lr if lr is None else torch.as_tensor(lr), soft=soft)
