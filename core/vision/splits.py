"""Image data in memory: normalised train / validation / test tensors plus what a model needs to know.

Every image domain (MedMNIST, MNIST for privacy and robustness) returns an :class:`ImageSplits`; the
training routine, the condensation methods and the audits take it, so none of them knows where the
images came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from condensekit.core.labels import check_class_indices
from condensekit.core.registry import check_int, check_tensor

TASKS = ("multi-class", "binary-class", "multi-label, binary-class", "ordinal-regression")


@dataclass
class ImageSplits:
    """Normalised images and labels of one dataset.

    Attributes:
        name: the dataset name (``"mnist"``, ``"pneumoniamnist"``...), recorded in artifact cards.
        x_train, x_val, x_test: float tensors N×C×H×W, already normalised with ``mean``/``std``.
        y_train, y_val, y_test: int64 labels N (single-label tasks) or float N×L (multi-label).
        num_classes: K (the number of labels L for multi-label tasks).
        task: one of :data:`TASKS` (MedMNIST's task names).
        mean, std: per-channel normalisation constants (C); ``x_raw = x * std + mean`` in [0, 1].
        info: free-form facts for the card (source file, split sizes, ...). A loader that draws the validation
            split from the training images itself (MNIST) records ``split_seed`` and ``val_size`` here: they
            define the split (:meth:`split_record`).
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    task: str = "multi-class"
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    info: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"Unknown value {self.task!r} for argument task. Valid values are {set(TASKS)}")
        check_int("num_classes", self.num_classes, 1)  # np.int64 (labels.max() + 1 of an array) is an integer
        self.num_classes = int(self.num_classes)  # the card's source record is JSON
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            check_tensor(f"x_{split}", x)
            check_tensor(f"y_{split}", y)
            if x.dim() != 4:
                raise ValueError(f"x_{split} must be N×C×H×W, got shape {tuple(x.shape)}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"x_{split} has {x.shape[0]} images but y_{split} has {y.shape[0]} labels")
            if not torch.isfinite(x).all():
                raise ValueError(f"x_{split} contains NaN or inf values")
        self._check_consistent()
        if not self.multilabel:  # the documented form: int64 N (an npz's N×1 or int32 labels failed in the loss)
            for split in ("train", "val", "test"):
                y = getattr(self, f"y_{split}")
                if y.dim() != 1 or y.dtype != torch.int64:
                    setattr(self, f"y_{split}", y.reshape(-1).long())

    def _check_consistent(self) -> None:
        """Every split's images have the training images' C×H×W, and its labels suit the task: single-label tasks
        N integer class indices in [0, ``num_classes``) (N×1 is read as N), multi-label ones N×``num_classes`` in
        {0, 1}. Float class labels trained as regression targets or a validation split of another size were
        accepted without a word (a float ``y`` condensed; RGB training images beside grey validation images failed
        only in the first evaluation)."""
        shape = tuple(self.x_train.shape[1:])
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if tuple(x.shape[1:]) != shape:
                raise ValueError(
                    f"x_{split} has images of shape {tuple(x.shape[1:])} (C, H, W) but x_train's are {shape}; every "
                    "split needs the same channels and size"
                )
            if self.multilabel:
                if y.dim() != 2 or y.shape[1] != self.num_classes:
                    raise ValueError(
                        f"y_{split} has shape {tuple(y.shape)}; task {self.task!r} needs N×{self.num_classes} "
                        "0/1 labels (num_classes is the number of labels)"
                    )
                bad = (y != 0) & (y != 1)
                if bool(bad.any()):
                    raise ValueError(f"y_{split} holds values other than 0 and 1; task {self.task!r} needs 0/1 labels")
                continue
            check_class_indices(y, self.num_classes, f"y_{split}", f"task {self.task!r} needs")

    @property
    def channels(self) -> int:
        """Image channels ``C`` (1 for grey, 3 for RGB)."""
        return int(self.x_train.shape[1])

    @property
    def im_size(self) -> tuple[int, int]:
        """Image height and width ``(H, W)``."""
        return int(self.x_train.shape[2]), int(self.x_train.shape[3])

    def split_record(self) -> dict[str, Any]:
        """What defines the train / validation split, as an artifact's card records it (``source.split``):
        ``{"validation": "held-out", "seed": s, "val_size": v}`` when the loader drew the validation images from the
        training images with seed ``s`` (``info["split_seed"]``, ``info["val_size"]``: MNIST), else
        ``{"validation": "given"}`` (the dataset's own files fix it, as MedMNIST's do, or the caller built the
        splits). Another seed or size holds out other images: a set condensed from one split must be evaluated and
        audited on the same one."""
        if "split_seed" not in self.info:
            return {"validation": "given"}
        val_size = self.info.get("val_size")
        return {
            "validation": "held-out",
            "seed": int(self.info["split_seed"]),  # type: ignore[call-overload]
            "val_size": None if val_size is None else int(val_size),  # type: ignore[call-overload]
        }

    @property
    def multilabel(self) -> bool:
        """Whether labels are N×L 0/1 sets (ChestMNIST's task) rather than N class indices."""
        return self.task == "multi-label, binary-class"

    def class_labels(self) -> Tensor:
        """Training labels as one class index per image (for budgets and per-class sampling); multi-label
        tasks use the first positive label, or an extra "no finding" class K when none is positive."""
        if not self.multilabel:
            return self.y_train.reshape(-1).long()
        has = self.y_train.bool()
        first = has.float().argmax(dim=1)
        return torch.where(has.any(dim=1), first, torch.full_like(first, self.num_classes))

    def denormalise(self, x: Tensor) -> Tensor:
        """Back to [0, 1] pixel space: ``x * std + mean`` per channel (N×C×H×W)."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return x * std + mean

    def renormalised(self, mean: tuple[float, ...], std: tuple[float, ...]) -> ImageSplits:
        """The same images with every split re-expressed as ``(x_raw - mean) / std`` (``x_raw`` =
        :meth:`denormalise` of the stored tensors, the [0, 1] pixels); ``self`` when its constants are already these.
        An artifact's images live in the normalisation its card records (``source.mean`` / ``source.std``); an audit
        that trains or attacks them beside the real data re-expresses the real data in it first."""
        mean, std = tuple(float(m) for m in mean), tuple(float(s) for s in std)
        if (tuple(self.mean), tuple(self.std)) == (mean, std):
            return self
        if len(mean) != self.channels or len(std) != self.channels or not all(s > 0 for s in std):
            raise ValueError(f"mean {mean} and std {std} must have one value per channel ({self.channels}), std > 0")

        def move(x: Tensor) -> Tensor:
            m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            return (self.denormalise(x) - m) / s

        return replace(
            self, x_train=move(self.x_train), x_val=move(self.x_val), x_test=move(self.x_test), mean=mean, std=std,
            info=dict(self.info) | {"normalisation": f"re-expressed in mean {mean}, std {std}"},  # not the old ones
        )  # fmt: skip

    def validation_as_test(self) -> ImageSplits:
        """The same data with the validation split in the test split's place: evaluation routines that score on
        ``x_test`` then score on validation images, so a selection (of an iteration, a set or a setting) never
        reads the test split."""
        return replace(self, x_test=self.x_val, y_test=self.y_val)

    def to(self, device: torch.device | str) -> ImageSplits:
        """A copy with every tensor on ``device``."""
        moved = {k: getattr(self, k).to(device) for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")}
        return ImageSplits(
            name=self.name, num_classes=self.num_classes, task=self.task, mean=self.mean, std=self.std,
            info=dict(self.info), **moved,
        )  # fmt: skip


def check_image_splits(data: object, *, argument: str = "data") -> None:
    """Raise ``ValueError`` naming ``argument`` unless ``data`` is an :class:`ImageSplits`: a dataset name or an
    array handed to a function that takes loaded data failed later as an ``AttributeError`` (``'str' object has no
    attribute 'name'``). The message says how to get one."""
    if not isinstance(data, ImageSplits):
        shown = repr(data) if isinstance(data, str) else f"a {type(data).__name__}"
        raise ValueError(
            f"Invalid value {shown} for argument {argument}. Valid values are ImageSplits: load one with "
            "condensekit.core.vision.load_image_dataset(name) (mnist or a MedMNIST flag) or "
            "condensekit.medical.load_medmnist(flag)"
        )
