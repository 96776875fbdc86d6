"""Bad input to the medical command line, from the issue's list (a class without training images, the method flags
that ``--method X --help`` promises)."""

import numpy as np

from condensekit.core.cli import main
from tests.medical.test_medical_data import _write


def test_a_class_without_training_images_is_refused_before_condensing(tmp_path, capsys):
    # core gives a class without training images no budget, so a training split without class 0 was condensed,
    # silently, into a set of class-1 images only
    arrays = _write(tmp_path, "breastmnist", n=(16, 6, 6))
    keep = arrays["train_labels"][:, 0] == 1
    arrays["train_images"], arrays["train_labels"] = arrays["train_images"][keep], arrays["train_labels"][keep]
    np.savez(tmp_path / "medmnist" / "breastmnist.npz", **arrays)
    art = tmp_path / "art"
    argv = ["medical", "condense", "--flag", "breastmnist", "--root", str(tmp_path), "--method", "random", "--ipc",
            "1", "--profile", "cpu", "--out", str(art), "--quiet", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 2
    assert "training split of 'breastmnist' holds no image of class(es) [0] (of 2)" in capsys.readouterr().err
    assert not art.exists()
