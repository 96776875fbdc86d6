r"""Membership-inference audit of any image set: does a model trained on it reveal who was in the real data?

Game. ``m`` candidates are real *members* (training records the set was made from; for the real-subset
baseline, exactly the records the target trained on) and ``m`` are *non-members*: records of the validation
split when it holds ``m`` (drawn from the same file as the training records and never used by the private
methods), else of the test split. Non-members from another split can differ in difficulty (MNIST's test
images are slightly easier than its training images), which moves the AUC away from 0.5 by itself.
A target model is trained on the audited set; the attack scores every candidate and we report the ROC AUC
and the TPR at 0.1 % and 1 % FPR (`Carlini et al., "Membership Inference Attacks From First Principles",
S&P 2022 <https://arxiv.org/abs/2112.03570>`_: low-FPR TPR is what matters).

Attacks (:data:`ATTACKS`):

* ``loss`` (`Yeom et al., CSF 2018 <https://arxiv.org/abs/1709.01604>`_): score :math:`-\ell(f(\mathbf{x}), y)`.
* ``lira`` (Carlini et al. 2022): the logit-scaled confidence :math:`\phi = \log p_y - \log(1 - p_y)` of the
  target is compared with its distribution under shadow models. **Online**: every shadow trains on a random
  half of the 2m candidates, so each candidate has IN and OUT shadows; score
  :math:`\log \mathcal{N}(\phi; \mu_{in}, \sigma_{in}^2) - \log \mathcal{N}(\phi; \mu_{out}, \sigma_{out}^2)`.
  **Offline**: shadows train on disjoint chunks of ``m`` records outside the candidates (all OUT); score
  :math:`(\phi - \mu_{out}) / \sigma_{out}`. Asking for more offline shadows than the reserve splits into is an
  error. The spread is one pooled per side below 64 shadows (the paper's "fixed variance" for few shadows),
  else per example (``lira_variance``; :mod:`condensekit.privacy.mia`).

The shadows imitate the target's training: for a real subset they are exact; for a condensed or generated
set they are *real subsets of the set's size* — a proxy, since re-running the condensation per shadow (as
"No Free Lunch", Carlini et al. 2022, do) is out of CPU reach here. The baseline, a model trained on a random
real subset of the same size, shows what a working attack finds. Optional canaries (``canaries`` members
given a wrong label in the real-subset target) show the worst case. The result goes into the artifact's card
(``audits``) through :func:`condensekit.core.artifact.update_card`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from condensekit.core.artifact import update_card
from condensekit.core.config import check_field_types
from condensekit.core.registry import check_choice, check_int
from condensekit.core.seed import resolve_device, seed_everything
from condensekit.core.vision import CondensedImages, ImageSplits, build_image_model, fit_images, predict
from condensekit.core.vision.imageset import check_source
from condensekit.core.vision.splits import check_image_splits
from condensekit.core.vision.train import check_image_set
from condensekit.privacy.base import check_single_label
from condensekit.privacy.data import load_private_dataset, public_normalisation
from condensekit.privacy.evaluate import train_config_for
from condensekit.privacy.mia import (
    ATTACKS,
    MembershipGame,
    lira_scores,
    lira_variance_for,
    logit_confidence,
    membership_metrics,
    mislabel,
    one_sided,
    roc_metrics,
)

__all__ = [
    "ATTACKS",
    "AuditConfig",
    "audit_artifact",
    "audit_set",
    "benchmark_audits",
    "roc_metrics",
]

MEMBER_SETS: tuple[str, ...] = ("random", "init")


@dataclass(frozen=True)
class AuditConfig(MembershipGame):
    """How the image audit runs (the game's shared fields: :class:`~condensekit.privacy.mia.MembershipGame`)."""

    members: int = field(default=0, metadata={"help": "member candidates m (0: the set's size, at most 1000)"})
    model: str = field(default="mlp", metadata={"help": "target and shadow architecture"})
    train_steps: int = field(default=500, metadata={"help": "Adam steps of the target and every shadow"})
    member_set: str = field(
        default="random",
        metadata={"help": "random: random training records; init: the real images that seeded the set (its card)"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_field_types(self)  # numpy scalars stored as Python values (cards stay JSON); bool / Literal by kind
        check_choice("member_set", self.member_set, MEMBER_SETS)
        check_int("train_steps", self.train_steps, 1)


# ---------------------------------------------------------------------------------------------
# the game


def _train(x: Tensor, y: Tensor, data: ImageSplits, cfg: AuditConfig, seed: int) -> torch.nn.Module:
    seed_everything(seed)
    net = build_image_model(cfg.model, channels=data.channels, num_classes=data.num_classes, im_size=data.im_size)
    net = net.to(x.device)
    gen = torch.Generator(device=x.device).manual_seed(seed)
    fit_images(net, x, y, config=train_config_for(int(x.shape[0]), train_steps=cfg.train_steps), generator=gen)
    return net


def audit_set(
    x: Tensor | None,
    y: Tensor | None,
    data: ImageSplits,
    config: AuditConfig = AuditConfig(),
    *,
    size: int | None = None,
    member_indices: Tensor | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Audit the image set ``(x, y)`` (normalised like ``data``); with ``x`` = ``None``, audit the baseline: a
    model trained on ``size`` random real training records (the members), with ``config.canaries`` of them
    mislabelled. ``member_indices`` (rows of ``data.x_train``): audit exactly these records as members (the
    ``init`` game: the real images that seeded the set) instead of random ones.
    Returns the audit record (metrics, the game's sizes, the attack and its mode)."""
    cfg = config
    check_image_splits(data)
    dev = resolve_device(device)  # "cuda:7" on a CPU machine failed in torch ("Found no NVIDIA driver")
    check_single_label(data, "the membership audit")
    if x is None and (size is None or size < 1):
        raise ValueError(f"Invalid value {size!r} for argument size. The real-subset baseline needs size >= 1")
    if x is not None:  # a numpy x was an AttributeError, float class labels a RuntimeError of the loss
        check_image_set(x, y, data)
    n_set = int(x.shape[0]) if x is not None else int(size)  # type: ignore[arg-type]
    m = cfg.members or min(n_set, 1000)
    if member_indices is not None:
        member_indices = torch.as_tensor(member_indices, dtype=torch.long).reshape(-1).cpu()
        if x is None or member_indices.unique().numel() != member_indices.numel():
            raise ValueError("member_indices needs an audited set x and distinct training rows")
        m = int(member_indices.numel())
    if x is None:
        m = n_set  # the members are exactly the target's training records
    n_train = int(data.x_train.shape[0])
    split = "val" if data.x_val.shape[0] >= m else "test"
    out_x, out_y = (data.x_val, data.y_val) if split == "val" else (data.x_test, data.y_test)
    n_out = int(out_x.shape[0])
    if m > n_out or 2 * m > n_train:
        raise ValueError(
            f"Invalid value {m} for argument members: the data has {n_train} training and {n_out} {split} records; "
            f"members must be <= {min(n_out, n_train // 2)}"
        )
    if cfg.canaries > m or (cfg.canaries and x is not None):
        raise ValueError(
            f"Invalid value {cfg.canaries!r} for argument canaries: canaries are mislabelled members of the "
            f"real-subset target (at most members = {m}); an existing set cannot be given canaries after the fact"
        )
    gen = torch.Generator().manual_seed(cfg.seed)
    perm = torch.randperm(n_train, generator=gen, device="cpu")  # host draws: the same game on any device
    mem_idx, reserve_idx = perm[:m], perm[m:]
    if member_indices is not None:
        if int(member_indices.min()) < 0 or int(member_indices.max()) >= n_train:
            raise ValueError(f"member_indices must be rows of the {n_train} training records")
        mem_idx = member_indices
        reserve_idx = perm[~torch.isin(perm, member_indices)]
    non_idx = torch.randperm(n_out, generator=gen, device="cpu")[:m]
    cand_x = torch.cat([data.x_train[mem_idx], out_x[non_idx]]).to(dev)
    cand_y = torch.cat([data.class_labels()[mem_idx], out_y[non_idx].reshape(-1).long()]).to(dev)
    is_member = torch.arange(2 * m, device=dev) < m
    if x is None:  # baseline target: trained on the members (canaries: the first few get a wrong label)
        cand_y = cand_y.clone()
        if cfg.canaries:
            cand_y[: cfg.canaries] = mislabel(cand_y[: cfg.canaries], data.num_classes, gen)
        tx, ty = cand_x[:m], cand_y[:m]
    else:
        tx, ty = x.to(dev), y.to(dev)  # type: ignore[union-attr]

    target = _train(tx, ty, data, cfg, seed=cfg.seed)
    t_logits = predict(target, cand_x)
    record: dict[str, Any] = {
        "attack": cfg.attack,
        "members": m,
        "non_members_from": split,
        "target_size": n_set,
        "config": asdict(cfg),
        "target": "real subset" if x is None else "audited set",
        "member_set": "init" if member_indices is not None else "random",
    }
    if cfg.attack == "loss":
        scores = -F.cross_entropy(t_logits, cand_y, reduction="none")
    else:
        phi = logit_confidence(t_logits, cand_y)
        scores, shadow_info = _lira(phi, cand_x, cand_y, data, cfg, reserve_idx, n_set, dev)
        record |= shadow_info
    return record | membership_metrics(scores, is_member, cfg.canaries)


def _lira(
    phi: Tensor, cand_x: Tensor, cand_y: Tensor, data: ImageSplits, cfg: AuditConfig, reserve_idx: Tensor,
    n_set: int, dev: torch.device,
) -> tuple[Tensor, dict[str, Any]]:  # fmt: skip
    two_m = cand_x.shape[0]
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    confs, ins = [], []
    if cfg.mode == "offline":
        if cfg.shadows * n_set > reserve_idx.numel():
            raise ValueError(
                f"Invalid value {cfg.shadows} for argument shadows: offline shadows train on disjoint chunks of "
                f"{n_set} records and the {reserve_idx.numel()} non-candidate records split into at most "
                f"{reserve_idx.numel() // n_set}"
            )
    elif n_set >= two_m:  # a shadow on every candidate leaves no OUT shadows: the OUT fit would be empty
        raise ValueError(
            f"Invalid value {two_m // 2} for argument members: online shadows train on {n_set} of the {two_m} "
            f"candidates, so every candidate would be IN every shadow; use members > {n_set // 2} (members = "
            f"{n_set}, the set's size, gives each shadow half of the candidates, as in Carlini et al.) or "
            "mode='offline'"
        )
    labels = data.class_labels()
    for s in range(cfg.shadows):
        if cfg.mode == "offline":
            idx = reserve_idx[s * n_set : (s + 1) * n_set]
            sx, sy = data.x_train[idx].to(dev), labels[idx].to(dev)
            inside = torch.zeros(two_m, dtype=torch.bool, device=dev)
        else:
            pick = torch.randperm(two_m, generator=gen, device="cpu")[:n_set].to(dev)
            sx, sy = cand_x[pick], cand_y[pick]
            inside = torch.zeros(two_m, dtype=torch.bool, device=dev)
            inside[pick] = True
        net = _train(sx, sy, data, cfg, seed=cfg.seed + 1000 + s)
        confs.append(logit_confidence(predict(net, cand_x), cand_y))
        ins.append(inside)
    conf, inside = torch.stack(confs), torch.stack(ins)  # shadows × 2m
    variance = lira_variance_for(cfg.lira_variance, cfg.shadows)
    score = lira_scores(phi, conf, inside, online=cfg.mode == "online", variance=variance)
    if cfg.mode == "offline":
        return score, {"shadows": cfg.shadows, "mode": "offline", "variance": variance}
    return score, {"shadows": cfg.shadows, "mode": "online", "variance": variance,
                   "shadow_set": "real subsets of the target's size", "one_sided": one_sided(inside)}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# artifacts


def audit_artifact(
    path: str | os.PathLike[str],
    config: AuditConfig = AuditConfig(),
    *,
    data: ImageSplits | None = None,
    root: str | None = None,
    device: str = "cpu",
    record: bool = True,
) -> dict[str, Any]:
    """Audit the image artifact at ``path`` (any domain) and append the result to its card's ``audits``; the
    real data is ``data`` or the dataset its card names, at its image size and split as the set's was (core's
    :func:`~condensekit.core.vision.imageset.load_source_data`). Either way it is checked against the card
    (:func:`~condensekit.core.vision.imageset.check_source`): channels, image size and classes must be the set's, or
    the models would not fit it; so must the split: with another one the game's "non-members" could be records the
    set was made from, and an ``init`` game's rows would name other images.

    Returns the audit record (``auc``, ``tpr_at_fpr`` ..., the game's sizes, the attack), also appended to the card's
    ``audits`` unless ``record=False``."""
    resolve_device(device)  # before the data loads
    if data is not None:
        check_image_splits(data)
    ci = CondensedImages.load(path, purpose="`privacy audit`")
    src = ci.card["source"]
    if data is None:
        data = ci.source_data(root=root, artifact=path)
        if "mean" not in src or "std" not in src:  # a card without its constants: the privacy domain's own
            data = public_normalisation(data)
    else:
        check_source(ci.card, data, artifact=path)
    if "mean" in src and "std" in src:  # the real data in the set's own normalisation (whichever domain made it)
        data = data.renormalised(tuple(src["mean"]), tuple(src["std"]))
    y = ci.y if ci.y.dim() == 1 else ci.y.argmax(dim=1)
    members = None
    if config.member_set == "init":  # the rows the card's `init` record names (written when the set was made)
        try:
            members = ci.seed_rows()
        except ValueError as err:
            raise ValueError(f"Invalid value 'init' for argument member_set for {str(path)!r}: {err}") from None
        if members is None:
            why = ci.card["init"].get("reason", "no reason recorded")
            raise ValueError(
                f"Invalid value 'init' for argument member_set: no real training images seeded {str(path)!r} "
                f"({why}); use member_set='random'"
            )
    result = audit_set(ci.x.float(), y.long(), data, config, member_indices=members, device=device)
    result |= {"method": ci.card.get("method"), "privacy": ci.card.get("privacy")}
    if record:
        update_card(path, audits={k: v for k, v in result.items() if k != "privacy"} | {"kind": "membership"})
    return result


def benchmark_audits(
    targets: list[str], *, attack: str, shadows: int, seed: int = 0, size: int = 100, member_set: str = "random",
    members: int = 0,
) -> Iterator[tuple[str, dict[str, Any]]]:  # fmt: skip
    """For the benchmark: ``real-subset`` (a model on ``size`` random real MNIST records) or artifact folders;
    ``members``: the member candidates of an artifact's game (0: the set's size, at most 1,000)."""
    cfg = AuditConfig(attack=attack, shadows=shadows, seed=seed, member_set=member_set, members=members)
    for t in targets:
        if t == "real-subset":
            data = load_private_dataset("mnist")
            r = audit_set(None, None, data, cfg, size=size)
            yield f"real-subset-{size}/{attack}", r | {"method": f"real subset ({size})", "dataset": "mnist"}
        else:
            r = audit_artifact(t, cfg)
            name = os.path.basename(os.path.normpath(t))
            eps = (r.get("privacy") or {}).get("epsilon")
            tag = f"{attack}/init" if member_set == "init" else attack
            yield f"{name}/{tag}", r | {"method": f"{r['method']} ({name})", "dataset": "mnist", "epsilon": eps}
