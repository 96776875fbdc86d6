"""A condensed image set as an artifact, readable by every image domain and every audit.

Tensors: ``x`` (N×C×H×W, normalised like the source data), ``y`` (N int64 labels, or N×L float for
multi-label tasks), for trajectory methods ``lr`` (the learned learning rate, a 0-d tensor) and, for
relabelling methods (SRe2L), ``soft`` (N×K soft labels from a teacher, rows summing to 1; the card's
``labels`` records ``{"kind": "soft", "temperature": T}`` and the students are trained on them). The
card's ``task`` is ``"image_classification"`` whatever the domain (``medical``, ``privacy``, ``robust``),
and ``source`` records ``dataset``, ``num_classes``, ``task`` (MedMNIST's task name), ``channels``,
``im_size``, ``mean`` and ``std``, so an audit can load the matching real data and models that fit.
``source.split`` records what defined the train / validation split (:meth:`ImageSplits.split_record`: the
seed and size of a validation split the loader drew from the training images, MNIST's; ``{"validation":
"given"}`` for a dataset's own splits), so a reader re-derives the same split (:func:`source_split_seed`,
:func:`load_source_data`) and refuses data split otherwise (:func:`check_split`, part of :func:`check_source`,
which also checks channels, size and classes): with another seed an evaluation or audit would test on images the
set may have been selected on. Cards made before the record
have none; every command drew MNIST's split with seed 0 (the loaders' default), which is what readers then
use, and only the recorded ``train_size`` is checked.
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
from condensekit.core.vision.datasets import load_image_dataset
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
        "split": data.split_record(),
    }


#: The split seed of a card made before ``source.split`` was recorded: the one every command used (the loaders'
#: default).
DEFAULT_SPLIT_SEED = 0


def source_split_seed(card: dict[str, Any]) -> int:
    """The seed to load a card's real data with, so the loader draws the split the set was condensed from: the card's
    ``source.split.seed``; :data:`DEFAULT_SPLIT_SEED` for a dataset whose splits are given (the seed is not used) or a
    card made before the record."""
    split = (card.get("source") or {}).get("split") or {}
    return int(split.get("seed", DEFAULT_SPLIT_SEED))


def check_split(card: dict[str, Any], data: ImageSplits, *, artifact: str | os.PathLike[str] | None = None) -> None:
    """Refuse (``ValueError``) real ``data`` whose train / validation split is not the one the card's set was condensed
    from (``source.split``, then ``source.train_size``): another split seed or validation size holds out other
    images, so an evaluation or audit could test on images the set was selected on. A card made before the split was
    recorded is checked on its ``train_size`` alone."""
    src = card.get("source") or {}
    name = f"artifact {str(artifact)!r}" if artifact is not None else "the artifact"
    have, want = src.get("split"), data.split_record()
    if have is not None and have != want:
        how = (
            f"load it with seed={have['seed']} (load_image_dataset({src.get('dataset')!r}, seed={have['seed']}))"
            if have.get("validation") == "held-out" and have.get("seed") is not None
            else "load the dataset's own splits"
        )
        raise ValueError(
            f"{name} was condensed from {src.get('dataset')!r} split as {have}, the real data given is split as "
            f"{want}: its validation images differ, so testing on it could score images the set was selected on; {how}"
        )
    n_train = src.get("train_size")
    if n_train is not None and int(n_train) != int(data.x_train.shape[0]):
        raise ValueError(
            f"{name} was condensed from {n_train} training images of {src.get('dataset')!r}, the real data given has "
            f"{int(data.x_train.shape[0])}: another split of the dataset (another validation hold-out)"
        )


def check_source(card: dict[str, Any], data: ImageSplits, *, artifact: str | os.PathLike[str] | None = None) -> None:
    """Refuse (``ValueError``) real ``data`` that does not fit the card's set: other channels or image size than the
    card's ``source.channels`` / ``source.im_size``, or another number of classes (each checked when the card records
    it), then a split other than the set's (:func:`check_split`). Without it a 16-pixel set meeting 28-pixel data
    failed later in a matrix product. Used on data a reader loads (:func:`load_source_data`) and on data a caller
    gives."""
    src = card.get("source") or {}
    name = f"artifact {str(artifact)!r}" if artifact is not None else "the artifact"
    dataset = src.get("dataset")
    want = [src.get("channels"), *(src.get("im_size") or [None, None])]
    have = [data.channels, *data.im_size]
    off = [w is not None and int(w) != h for w, h in zip(want, have, strict=True)]  # channels, H, W
    if any(off):
        size = f", size={int(want[1])}" if want[1] is not None else ""
        fix = (f"use the data at the set's size (load_image_dataset({dataset!r}{size}))" if any(off[1:])
               else f"use the dataset the set was condensed from, with its {want[0]} channel(s)")  # fmt: skip
        raise ValueError(
            f"{name}'s images are {want} (channels, H, W) but the real {dataset!r} data is {have}: {fix}, from the "
            "data root it was condensed from"
        )
    if src.get("num_classes") not in (None, data.num_classes):
        raise ValueError(
            f"{name} has {src.get('num_classes')} classes, the real {dataset!r} data {data.num_classes}: "
            "use the dataset the set was condensed from"
        )
    check_split(card, data, artifact=artifact)


def load_source_data(
    card: dict[str, Any], *, root: str | os.PathLike[str] | None = None, artifact: str | os.PathLike[str] | None = None
) -> ImageSplits:
    """The real data an image artifact's set was condensed from, split as it was: the card's ``source.dataset`` at its
    image size from core's registry (:func:`~condensekit.core.vision.datasets.load_image_dataset`), with the card's
    split seed (:func:`source_split_seed`), checked against the card (channels, size, classes and split:
    :func:`check_source`). ``artifact`` names the set in errors."""
    src = card.get("source") or {}
    size = int((src.get("im_size") or [28])[0])
    data = load_image_dataset(str(src.get("dataset")), root=root, size=size, seed=source_split_seed(card))
    check_source(card, data, artifact=artifact)
    return data


@dataclass
class CondensedImages:
    """Synthetic images, their labels, an optional learned learning rate, optional soft labels, and the card."""

    x: Tensor
    y: Tensor
    card: dict[str, Any] = field(default_factory=dict)
    lr: Tensor | None = None
    soft: Tensor | None = None

    def tensors(self) -> dict[str, Tensor]:
        """What :meth:`save` writes: ``x`` (N×C×H×W float), ``y`` (N int64, or N×L float multi-label), and when
        present ``lr`` (0-d float) and ``soft`` (N×K float); detached, on their device."""
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

    def source_data(
        self, *, root: str | os.PathLike[str] | None = None, artifact: str | os.PathLike[str] | None = None
    ) -> ImageSplits:
        """The real data the set was condensed from, split as it was (:func:`load_source_data` of its card)."""
        return load_source_data(self.card, root=root, artifact=artifact)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the artifact folder ``path`` (``tensors.safetensors`` + ``card.json``) and return it."""
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
