"""What every image domain shares: models, the image data container, the training routine, MNIST.

Domains (medical, privacy, robust) import from here and never from each other. Augmentation (DSA),
expert trajectories and the image condensation methods join this package as they land.
"""

from condensekit.core.vision.convnet import ConvNet
from condensekit.core.vision.imageset import IMAGE_TASK, CondensedImages, image_source
from condensekit.core.vision.mlp import MLP, LogReg
from condensekit.core.vision.mnist import load_mnist
from condensekit.core.vision.models import IMAGE_MODELS, SmallCNN, build_image_model
from condensekit.core.vision.resnet import ResNet18
from condensekit.core.vision.splits import TASKS, ImageSplits
from condensekit.core.vision.train import (
    FitResult,
    ImageTrainConfig,
    accuracy_metric,
    classification_loss,
    evaluate_image_set,
    fit_images,
    multilabel_loss,
    predict,
)

__all__ = [
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
    "build_image_model",
    "classification_loss",
    "evaluate_image_set",
    "fit_images",
    "load_mnist",
    "multilabel_loss",
    "predict",
]
