import pytest

from condensekit.core.vision.datasets import IMAGE_DATASETS, image_dataset_names, load_image_dataset


def test_unknown_name_lists_builtin_and_plugin_names():
    with pytest.raises(ValueError, match="Unknown dataset 'nosuch'") as err:
        load_image_dataset("nosuch")
    # mnist is core's own; pneumoniamnist comes from the medical domain's entry point
    assert "mnist" in str(err.value) and "pneumoniamnist" in str(err.value)
    assert {"mnist", "pneumoniamnist", "breastmnist"} <= set(image_dataset_names())


def test_loader_gets_root_size_and_seed_and_names_are_case_insensitive(tiny_images):
    seen = {}

    def toy(root=None, *, size=28, seed=0):
        seen.update(root=root, size=size, seed=seed)
        return tiny_images

    IMAGE_DATASETS.register("toyset", toy)
    try:
        assert load_image_dataset("ToySet", root="/r", size=8, seed=3) is tiny_images
        assert seen == {"root": "/r", "size": 8, "seed": 3}
    finally:
        IMAGE_DATASETS._items.pop("toyset")


def test_builtin_and_plugin_loaders_read_the_given_root(tmp_path):
    with pytest.raises(ValueError, match="argument size"):
        load_image_dataset("mnist", root=tmp_path, size=64)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_image_dataset("mnist", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="pneumoniamnist_64.npz"):
        load_image_dataset("pneumoniamnist", root=tmp_path, size=64)
