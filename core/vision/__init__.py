"""What every image domain shares: models, the image data container, the training routine, MNIST and the
registry of image datasets by name (:mod:`.datasets`).

Domains (medical, privacy, robust) import from here and never from each other. Differentiable siamese
augmentation (:mod:`.augment`) and expert trajectories (:mod:`.experts`) are exported here; the image
condensation methods (random real, DM, DC, MTT, registry ``IMAGE_METHODS``) live in
:mod:`condensekit.core.vision.methods`.
"""

from condensekit.core.vision.augment import DSA, DSAConfig, DSAParams, apply_dsa, draw_params
from condensekit.core.vision.convnet import ConvNet
from condensekit.core.vision.datasets import IMAGE_DATASETS, image_dataset_names, load_image_dataset
from condensekit.core.vision.experts import ExpertBuffer, ExpertConfig, generate_experts, train_expert
from condensekit.core.vision.imageset import IMAGE_TASK, CondensedImages, image_source
from condensekit.core.vision.mlp import MLP, LogReg
from condensekit.core.vision.mnist import load_mnist
from condensekit.core.vision.models import IMAGE_MODELS, SmallCNN, batch_norm_layers, build_image_model
from condensekit.core.vision.resnet import ResNet18
from condensekit.core.vision.splits import TASKS, ImageSplits
from condensekit.core.vision.train import (
    FitResult,
    ImageTrainConfig,
    accuracy_metric,
    classification_loss,
    distillation_loss,
    evaluate_image_set,
    fit_images,
    multilabel_loss,
    predict,
)

__all__ = [
    "DSA",
    "DSAConfig",
    "DSAParams",
    "ExpertBuffer",
    "ExpertConfig",
    "apply_dsa",
    "draw_params",
    "generate_experts",
    "train_expert",
    "IMAGE_DATASETS",
    "IMAGE_MODELS",
    "IMAGE_TASK",
    "CondensedImages",
    "image_source",
    "TASKS",
    "ConvNet",
    "FitResult",
    "ImageSplits",
    "ImageTrainConfig",
    "LogReg",
    "MLP",
    "ResNet18",
    "SmallCNN",
    "accuracy_metric",
    "batch_norm_layers",
    "build_image_model",
    "classification_loss",
    "distillation_loss",
    "evaluate_image_set",
    "fit_images",
    "image_dataset_names",
    "load_image_dataset",
    "load_mnist",
    "multilabel_loss",
    "predict",
]
