"""ImageSplits refuses what a researcher may hand it by mistake, naming the split and what is valid."""

import dataclasses

import numpy as np
import pytest
import torch

from condensekit.core.vision import ImageSplits


def _splits(**over):
    x = torch.randn(6, 1, 8, 8)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    kw = dict(name="toy", x_train=x, y_train=y, x_val=x[:2], y_val=y[:2], x_test=x[:2], y_test=y[:2], num_classes=2)
    return ImageSplits(**(kw | over))


def test_valid_splits_are_accepted() -> None:
    d = _splits()
    assert d.channels == 1 and d.im_size == (8, 8)
    _splits(y_train=torch.tensor([0, 1, 0, 1, 0, 1]).view(6, 1))  # N×1, as MedMNIST's files hold them


def test_float_class_labels_are_refused() -> None:
    d = _splits()
    with pytest.raises(ValueError, match=r"y_train has shape \(6,\) and dtype torch.float32.*integer class indices"):
        dataclasses.replace(d, y_train=d.y_train.float())


def test_numpy_arrays_are_refused_by_name() -> None:
    d = _splits()
    with pytest.raises(ValueError, match="argument x_train: a ndarray; it must be a torch.Tensor"):
        dataclasses.replace(d, x_train=d.x_train.numpy())
    with pytest.raises(ValueError, match="argument y_val: a ndarray"):
        dataclasses.replace(d, y_val=np.zeros(2, dtype=np.int64))


def test_splits_of_another_image_shape_are_refused() -> None:
    d = _splits()
    with pytest.raises(ValueError, match=r"x_val has images of shape \(3, 8, 8\).*x_train's are \(1, 8, 8\)"):
        dataclasses.replace(d, x_val=d.x_val.repeat(1, 3, 1, 1))


def test_labels_out_of_range_and_a_bad_class_count_are_refused() -> None:
    d = _splits()
    with pytest.raises(ValueError, match=r"y_test holds labels in \[0, 6\]; valid labels are 0 .. 1"):
        dataclasses.replace(d, y_test=d.y_test * 6)
    with pytest.raises(ValueError, match="argument num_classes. Valid values are integers >= 1"):
        dataclasses.replace(d, num_classes=0)


def test_multilabel_needs_n_by_l_zero_one_labels() -> None:
    x = torch.randn(4, 1, 8, 8)
    y = torch.tensor([[1.0, 0.0, 1.0]] * 4)
    kw = dict(name="chest", x_train=x, y_train=y, x_val=x, y_val=y, x_test=x, y_test=y, num_classes=3,
              task="multi-label, binary-class")  # fmt: skip
    ImageSplits(**kw)
    with pytest.raises(ValueError, match=r"y_train has shape \(4,\); task 'multi-label, binary-class' needs N×3"):
        ImageSplits(**(kw | {"y_train": y[:, 0]}))
    with pytest.raises(ValueError, match="y_val holds values other than 0 and 1"):
        ImageSplits(**(kw | {"y_val": y * 2}))
