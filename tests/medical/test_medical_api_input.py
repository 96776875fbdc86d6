"""condense_medical / prepare_experts refuse a dataset name or a folder path where loaded objects belong."""

import pytest

from condensekit.medical import condense_medical, prepare_experts
from tests.core.vision.conftest import make_tiny_images


def test_a_flag_name_instead_of_loaded_splits_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"Invalid value 'breastmnist' for argument data.*load_medmnist"):
        condense_medical("breastmnist", "dm", ipc=1, profile="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="argument data"):
        prepare_experts("breastmnist", tmp_path / "experts")  # type: ignore[arg-type]
    assert not (tmp_path / "experts").exists()


def test_an_expert_folder_path_instead_of_a_buffer_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"argument experts. Valid values are None or an ExpertBuffer"):
        condense_medical(make_tiny_images(), "mtt", ipc=1, profile="cpu", experts=str(tmp_path))  # type: ignore[arg-type]


def test_loaded_splits_instead_of_a_flag_name_are_refused_by_type(tmp_path) -> None:
    """The reverse mistake: ``load_medmnist(splits)`` printed the whole object (thousands of characters of tensors)
    in its 'Unknown value ...' message; it names the type and the valid flags."""
    from condensekit.medical import load_medmnist

    data = make_tiny_images()
    for call in (lambda: load_medmnist(data, tmp_path), lambda: load_medmnist(None, tmp_path)):
        with pytest.raises(ValueError, match=r"^Invalid value of type \w+ for argument flag\. .*breastmnist") as err:
            call()
        assert len(str(err.value)) < 400
