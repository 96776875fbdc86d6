"""MedMNIST condensation: the data (every 2D flag), PTM, ACC/AUC evaluation and the ``medical`` CLI verbs.

The image machinery it uses (models, DSA, expert trajectories, random/DM/DC/MTT) lives in
:mod:`condensekit.core.vision`, shared with the other image domains. Importing this package registers
``ptm`` in :data:`~condensekit.core.vision.methods.IMAGE_METHODS`.
"""

from condensekit.medical.data import FLAGS_2D, load_medmnist, medmnist_info
from condensekit.medical.ptm import PTM, PTMConfig, stage_ends

__all__ = ["FLAGS_2D", "PTM", "PTMConfig", "load_medmnist", "medmnist_info", "stage_ends"]
