"""Which real training images seeded a condensed set: the card's ``init`` record, read by the init-member audit.

DM, DC and random real images (:mod:`condensekit.core.vision.methods`) start from real training rows chosen in
``ImageCondensation.setup`` with the engine's seed; the core card does not record them. :func:`real_init_record`
recovers them by replaying that set-up exactly as :func:`condensekit.core.engine.run` does it
(``seed_everything(seed)`` and then ``setup``), on the CPU, and checks that the replayed rows are the rows the
set-up copied. ``tests/privacy/test_privacy_init_record.py`` checks the replay against a real engine run (0
steps: the set *is* its initial images).

The proper place is the core: ``ImageCondensation.setup`` keeping ``idx`` and ``condense_images`` writing it into
the card; until then the privacy benchmark writes this record into the card when it makes the set. A set with
no real seed (``init="noise"``, every DP-MERF set) records ``train_indices: None``.
"""

from __future__ import annotations

from typing import Any

import torch

from condensekit.core.seed import seed_everything
from condensekit.core.vision import ImageSplits
from condensekit.core.vision.methods import make_image_config
from condensekit.core.vision.methods.base import IMAGE_METHODS

__all__ = ["no_real_init", "real_init_record"]

#: Methods that need resources besides the data (expert trajectories): their set-up cannot be replayed here.
_NEEDS_RESOURCES = ("mtt", "ptm")


def no_real_init(reason: str) -> dict[str, Any]:
    """The ``init`` record of a set that no real image seeded."""
    return {"from": "no real image", "train_indices": None, "reason": reason}


def real_init_record(data: ImageSplits, method: str, *, ipc: int, config: Any, seed: int) -> dict[str, Any]:
    """The ``init`` card record of the core image method ``method`` run with ``ipc``, ``config`` (a config
    dataclass or a dict of overrides) and engine ``seed`` on ``data``: the real training rows (indices into
    ``data.x_train``, grouped by class as the set is) its synthetic images started from.

    Raises ``ValueError`` for a method whose set-up needs resources (MTT, PTM) and ``RuntimeError`` when the
    replay does not reproduce the set-up's images.
    """
    entry = IMAGE_METHODS.get(method)
    if method in _NEEDS_RESOURCES:
        raise ValueError(
            f"Invalid value {method!r} for argument method: its set-up needs expert trajectories and is not "
            f"replayed here; valid methods are {sorted(set(IMAGE_METHODS.names()) - set(_NEEDS_RESOURCES))}"
        )
    cfg = make_image_config(method, config) if config is None or isinstance(config, dict) else config
    init = getattr(cfg, "init", "real")
    if init == "noise":
        return no_real_init("init='noise': the images start as Gaussian noise")
    algo = entry.cls(data, ipc, cfg)
    seed_everything(seed)  # exactly what core.engine.run does before setup
    algo.setup(torch.device("cpu"))
    x0 = algo.x_syn.detach().clone()
    seed_everything(seed)  # setup draws nothing before it picks the rows, so the pick replays
    idx = algo.initial_indices(init).cpu()
    if not torch.equal(data.x_train[idx], x0.cpu()):
        raise RuntimeError(f"replaying {method!r}'s set-up did not reproduce its initial images (seed {seed})")
    return {
        "from": "real training images",
        "selection": init,
        "train_indices": [int(i) for i in idx],
        "index_space": f"rows of the training split ({int(data.x_train.shape[0])} images; validation held out)",
        "recorded_by": "condensekit.privacy.init_record (replay of the engine's seeded set-up)",
    }
