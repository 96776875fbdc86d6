"""MedMNIST condensation: the data (every 2D flag), PTM, ACC/AUC evaluation and the ``medical`` CLI verbs.

Public API::

    load_medmnist, medmnist_info, FLAGS_2D               # data, offline from <root>/medmnist/{flag}.npz
    prepare_experts, condense_medical, medical_config    # expert buffers and condensation (profiles paper/cpu)
    evaluate_medical                                     # ACC/AUC as medmnist's Evaluator, validation-selected
    PTM, PTMConfig, stage_ends, PROFILES

The image machinery it uses (models, DSA, expert trajectories, random/DM/DC/MTT) lives in
:mod:`condensekit.core.vision`, shared with the other image domains. Importing this package registers
``ptm`` in :data:`~condensekit.core.vision.methods.IMAGE_METHODS`.
"""

from condensekit.medical.condense import condense_medical, medical_config, prepare_experts
from condensekit.medical.data import FLAGS_2D, load_medmnist, medmnist_info
from condensekit.medical.evaluate import evaluate_medical
from condensekit.medical.profiles import PROFILES
from condensekit.medical.ptm import PTM, PTMConfig, stage_ends

__all__ = [
    "FLAGS_2D",
    "PROFILES",
    "PTM",
    "PTMConfig",
    "condense_medical",
    "evaluate_medical",
    "load_medmnist",
    "medical_config",
    "medmnist_info",
    "prepare_experts",
    "stage_ends",
]
