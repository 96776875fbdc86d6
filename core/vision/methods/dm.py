"""DM: dataset condensation with distribution matching (Zhao & Bilen, WACV 2023,
https://arxiv.org/abs/2110.04181).

Every step draws a freshly initialised network :math:`\\psi_\\vartheta` (its embedding before the
classifier) and matches, per class, the mean embedding of a real batch and of the synthetic images under
one shared DSA draw :math:`\\mathcal{A}_\\omega`:

.. math::
    \\min_{\\mathcal{S}} \\; \\mathbb{E}_{\\vartheta,\\omega} \\sum_c \\Big\\lVert
    \\tfrac{1}{|B_c|}\\sum_{x \\in B_c} \\psi_\\vartheta(\\mathcal{A}_\\omega(x))
    - \\tfrac{1}{|S_c|}\\sum_{s \\in S_c} \\psi_\\vartheta(\\mathcal{A}_\\omega(s)) \\Big\\rVert^2

(:func:`condensekit.core.objectives.mean_embedding_distance`), then one SGD step on the images.
Defaults are the paper's: 20,000 iterations, SGD lr 1 momentum 0.5, 256 real images per class, ConvNet-3
instance norm, DSA, real initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from condensekit.core.config import check_field_types
from condensekit.core.objectives import mean_embedding_distance
from condensekit.core.registry import check_choice, check_int, check_nonnegative, check_positive
from condensekit.core.synthetic import INIT_METHODS
from condensekit.core.vision.augment import apply_dsa, draw_params
from condensekit.core.vision.methods.base import ImageSGDMethod, register_image_method


@dataclass(frozen=True)
class DMConfig:
    iterations: int = field(default=20000, metadata={"help": "engine steps (fresh networks)"})
    lr_img: float = field(default=1.0, metadata={"help": "SGD learning rate of the synthetic images"})
    momentum: float = 0.5
    batch_real: int = field(default=256, metadata={"help": "real images per class per step"})
    model: str = "convnet"
    dsa: bool = True
    init: str = "real"

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        for name in ("iterations", "batch_real"):  # 0 iterations returned the initial set as condensed
            check_int(name, getattr(self, name), 1)
        check_positive("lr_img", self.lr_img)
        check_nonnegative("momentum", self.momentum)  # else torch.optim.SGD refused it in setup, after the loading
        check_choice("init", self.init, INIT_METHODS)  # else refused only in setup


@register_image_method("dm", DMConfig, "DM (WACV 2023): class-wise mean embeddings under random networks")
class DM(ImageSGDMethod):
    config: DMConfig

    def step(self, step: int) -> dict[str, float]:
        net = self.fresh_model()
        net.train()
        for p in net.parameters():
            p.requires_grad_(False)
        loss = self.x_syn.new_zeros(())
        for c in self.classes:
            real = self.real_batch(c, self.config.batch_real)
            syn = self.x_syn[self.syn_slices[c]]
            draw = draw_params(self.dsa, 1, self.data.im_size, device=self.device)  # siamese: one draw, both
            with torch.no_grad():
                emb_real = net.embed(apply_dsa(real, draw, self.dsa))
            emb_syn = net.embed(apply_dsa(syn, draw, self.dsa))
            loss = loss + mean_embedding_distance(emb_real, emb_syn)
        reg = self.regularize(net)
        total = loss if reg is None else loss + reg
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}
