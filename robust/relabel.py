r"""Online relabelling: students learn the teacher's soft labels of every augmented batch (SRe2L / GUARD evaluation).

SRe2L (Yin et al., NeurIPS 2023) and GUARD (Xue et al., AAAI 2025) evaluate a recovered set by training
each student with the *teacher in the loop*: every minibatch of distilled images is augmented afresh and
labelled by the teacher on that very view,

.. math::
    \mathcal{L} = T^2 \cdot \mathrm{CE}\bigl(\mathrm{softmax}(f_S(a(\tilde x))/T),\;
    \mathrm{softmax}(f_T(a(\tilde x))/T)\bigr), \qquad a \sim \text{augmentation},

so the student matches the teacher on a neighbourhood of each image, not on the image alone (which is what
one stored soft label per image gives: :func:`~condensekit.core.vision.train.distillation_loss`).

:class:`OnlineRelabel` plugs this into the shared training routine without a loop of its own: its
:meth:`~OnlineRelabel.augment` augments the batch and records the teacher's labels of the view, its
:meth:`~OnlineRelabel.loss` is the distillation loss against them (``fit_images(augment=r.augment,
loss_fn=r.loss)``). The stored labels passed to ``fit_images`` are not read.

Deviations from the reference: the augmentation is the suite's DSA (one random transform per image per
step: colour, crop, cutout, flip, scale or rotation) instead of RandomResizedCrop + flip + CutMix, and the
teacher is the small CPU teacher of :mod:`condensekit.robust.sre2l`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from condensekit.core.vision.train import distillation_loss

__all__ = ["OnlineRelabel"]


class OnlineRelabel:
    """The teacher labels every augmented student batch (SRe2L / GUARD's evaluation).

    Args:
        teacher: the frozen teacher (evaluated in eval mode, without gradients), on the images' device.
        temperature: T of the soft labels and of the :math:`T^2`-scaled distillation loss, > 0.
        augment: the per-batch augmentation (e.g. :class:`~condensekit.core.vision.augment.DSA`);
            ``None`` labels the images as they are (then equal to one stored label per image).
    """

    def __init__(
        self, teacher: nn.Module, *, temperature: float, augment: Callable[[Tensor], Tensor] | None = None
    ) -> None:
        self._distill = distillation_loss(temperature)  # validates temperature > 0
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.temperature = float(temperature)
        self._augment = augment
        self._soft: Tensor | None = None

    @torch.no_grad()
    def soft_labels(self, x: Tensor) -> Tensor:
        """The teacher's :math:`\\mathrm{softmax}(f_T(x)/T)` (N×K)."""
        self.teacher.eval()
        return torch.softmax(self.teacher(x) / self.temperature, dim=-1)

    def augment(self, x: Tensor) -> Tensor:
        """Augment the batch and record the teacher's soft labels of the augmented view."""
        view = self._augment(x) if self._augment is not None else x
        self._soft = self.soft_labels(view)
        return view

    def loss(self, logits: Tensor, _stored: Tensor) -> Tensor:
        """Core's :func:`~condensekit.core.vision.train.distillation_loss` against the last batch's teacher labels."""
        if self._soft is None or self._soft.shape[0] != logits.shape[0]:
            raise RuntimeError("OnlineRelabel.loss needs the batch to go through OnlineRelabel.augment first")
        return self._distill(logits, self._soft)
