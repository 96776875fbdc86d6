"""evaluate_medical checks its data and models before any work (helper A's sitting-25 findings)."""

import pytest

from condensekit.medical.evaluate import evaluate_medical
from tests.core.vision.conftest import make_tiny_images


def test_a_flag_name_for_data_is_refused_by_name():
    data = make_tiny_images()
    with pytest.raises(ValueError, match=r"Invalid value 'breastmnist' for argument data\. Valid values"):
        evaluate_medical(data.x_train, data.y_train, "breastmnist", models=["convnet"], runs=1)


def test_a_plain_string_of_models_is_refused_not_read_as_letters():
    data = make_tiny_images()
    with pytest.raises(ValueError, match=r"Invalid value 'convnet' for argument models\..*\['convnet'\]"):
        evaluate_medical(data.x_train, data.y_train, data, models="convnet", runs=1)
