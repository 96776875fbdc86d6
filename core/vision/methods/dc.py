"""DC: dataset condensation with gradient matching (Zhao et al., ICLR 2021, https://arxiv.org/abs/2006.05929),
with DSA (Zhao & Bilen, ICML 2021) on both batches.

Each step draws a fresh network :math:`\\theta_0`; for ``outer_loop`` rounds it matches, per class, the
gradient of the loss on a real batch and on the synthetic images (one shared DSA draw), layer-wise with
DC's distance (:func:`condensekit.core.objectives.dc_distance`):

.. math::
    \\min_{\\mathcal{S}} \\sum_t \\sum_c D\\big(\\nabla_\\theta \\ell(\\mathcal{A}(S_c); \\theta_t),
    \\nabla_\\theta \\ell(\\mathcal{A}(B_c); \\theta_t)\\big),

updates the images, then trains the network ``inner_loop`` steps on the synthetic set (SGD ``lr_net``).
Defaults are the paper's for 10 images per class (1,000 iterations, outer 10, inner 50, ``lr_img`` 0.1
momentum 0.5, ``lr_net`` 0.01, 256 real images per class); the paper uses outer/inner 1/1 at IPC 1 and
50/10 at IPC 50 — set them with ``--outer-loop``/``--inner-loop``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from condensekit.core.config import check_field_types
from condensekit.core.objectives import dc_distance
from condensekit.core.optim import sgd
from condensekit.core.registry import check_choice, check_int, check_nonnegative, check_positive
from condensekit.core.synthetic import INIT_METHODS
from condensekit.core.vision.augment import apply_dsa, draw_params
from condensekit.core.vision.methods.base import ImageSGDMethod, register_image_method


@dataclass(frozen=True)
class DCConfig:
    iterations: int = field(default=1000, metadata={"help": "engine steps (fresh networks)"})
    outer_loop: int = field(
        default=10, metadata={"help": "image updates per network (paper: 1 / 10 / 50 at IPC 1 / 10 / 50)"}
    )
    inner_loop: int = field(default=50, metadata={"help": "network steps between updates (paper: 1 / 50 / 10)"})
    lr_img: float = 0.1
    momentum: float = 0.5
    lr_net: float = 0.01
    batch_real: int = 256
    batch_train: int = 256
    model: str = "convnet"
    dsa: bool = True
    init: str = "real"

    def __post_init__(self) -> None:
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        for name in ("iterations", "outer_loop", "batch_real", "batch_train"):  # outer_loop 0: ZeroDivisionError
            check_int(name, getattr(self, name), 1)
        check_int("inner_loop", self.inner_loop, 0)  # 0: the network is not trained between image updates
        for name in ("lr_img", "lr_net"):
            check_positive(name, getattr(self, name))
        check_nonnegative("momentum", self.momentum)  # else torch.optim.SGD refused it in setup, after the loading
        check_choice("init", self.init, INIT_METHODS)  # else refused only in setup


@register_image_method("dc", DCConfig, "DC / DSA (ICLR 2021): layer-wise gradient matching per class")
class DC(ImageSGDMethod):
    config: DCConfig

    def step(self, step: int) -> dict[str, float]:
        cfg = self.config
        net = self.fresh_model()
        net.train()
        params = list(net.parameters())
        net_opt = sgd(params, lr=cfg.lr_net)
        # The logged loss is summed on the device, in float64 as Python summed the floats before (the same
        # number), and read back once per step: a read per outer iteration was a host sync each on CUDA.
        total = self.x_syn.new_zeros((), dtype=torch.float64)
        for ol in range(cfg.outer_loop):
            loss = self.x_syn.new_zeros(())
            for c in self.classes:
                members = self.real_members[c]
                pick = members[torch.randperm(members.numel(), device=self.device)[: cfg.batch_real]]
                sl = self.syn_slices[c]
                draw = draw_params(self.dsa, 1, self.data.im_size, device=self.device)
                real_loss = self.loss_fn(net(apply_dsa(self.x_real[pick], draw, self.dsa)), self.y_real[pick])
                g_real = [g.detach() for g in torch.autograd.grad(real_loss, params)]
                syn_loss = self.loss_fn(net(apply_dsa(self.x_syn[sl], draw, self.dsa)), self.y_syn[sl])
                g_syn = torch.autograd.grad(syn_loss, params, create_graph=True)
                loss = loss + dc_distance(g_syn, g_real)
            reg = self.regularize(net)
            obj = loss if reg is None else loss + reg
            self.opt.zero_grad(set_to_none=True)
            obj.backward()
            self.opt.step()
            for p in params:  # the image update must not leave gradients on the network
                p.grad = None
            total = total + loss.detach().double()
            if ol == cfg.outer_loop - 1:
                break
            x_train, y_train = self.x_syn.detach(), self.y_syn
            n = x_train.shape[0]
            for _ in range(cfg.inner_loop):
                idx = torch.randperm(n, device=self.device)[: cfg.batch_train]
                xb = apply_dsa(
                    x_train[idx], draw_params(self.dsa, idx.numel(), self.data.im_size, device=self.device), self.dsa
                )
                net_opt.zero_grad(set_to_none=True)
                self.loss_fn(net(xb), y_train[idx]).backward()
                net_opt.step()
        return {"loss": float(total) / cfg.outer_loop}
