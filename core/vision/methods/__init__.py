"""Image condensation methods usable by every image domain, registered in :data:`IMAGE_METHODS`:
``random`` (real images), ``dm``, ``dc``, ``mtt``. Domains register their own (PTM in medical) with
:func:`register_image_method`; :func:`condense_images` runs any of them through the engine."""

from condensekit.core.vision.methods import dc, dm, mtt, random_real  # noqa: F401  (registers them)
from condensekit.core.vision.methods.base import (
    IMAGE_METHODS,
    ImageCondensation,
    ImageMethodEntry,
    class_groups,
    ipc_budgets,
    register_image_method,
)
from condensekit.core.vision.methods.condense import condense_images, make_image_config
from condensekit.core.vision.methods.dc import DC, DCConfig
from condensekit.core.vision.methods.dm import DM, DMConfig
from condensekit.core.vision.methods.mtt import MTT, MTTConfig
from condensekit.core.vision.methods.random_real import RandomReal, RandomRealConfig

__all__ = [
    "DC",
    "DCConfig",
    "DM",
    "DMConfig",
    "IMAGE_METHODS",
    "ImageCondensation",
    "ImageMethodEntry",
    "MTT",
    "MTTConfig",
    "RandomReal",
    "RandomRealConfig",
    "class_groups",
    "condense_images",
    "ipc_budgets",
    "make_image_config",
    "register_image_method",
]
