"""robust_condense and audit_images refuse bad API input by name, before any training."""

import pytest

from condensekit.core.vision import ImageTrainConfig
from condensekit.robust import AttackConfig, AuditConfig, audit_images, robust_condense
from tests.robust.conftest import make_toy_images

FAST = AuditConfig(attacks=("fgsm",), eps=("1/255",), runs=1, subset=3, train=ImageTrainConfig(epochs=1),
                   attack=AttackConfig(pgd_steps=1))  # fmt: skip


def test_a_dataset_name_and_a_guard_dict_are_refused() -> None:
    with pytest.raises(ValueError, match=r"Invalid value 'pneumoniamnist' for argument data"):
        robust_condense("pneumoniamnist", "dm", ipc=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"argument guard. Valid values are None .* or a GuardConfig"):
        robust_condense(make_toy_images(), "dm", ipc=1, guard={"curvature": 1.0})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x, y: (x, y.float()), "float32; .* needs N integer class"),  # was cast to int silently
        (lambda x, y: (x * float("nan"), y), "NaN or inf"),  # was trained and attacked to a table of figures
        (lambda x, y: (x, y + 5), r"labels in \[5, 7\]"),  # was an IndexError of the loss
        (lambda x, y: (x.numpy(), y), "argument x: a ndarray"),
    ],
)
def test_audit_images_refuses_a_bad_set(change, message) -> None:
    data = make_toy_images()
    x, y = change(data.x_train[:6], data.y_train[:6])
    with pytest.raises(ValueError, match=message):
        audit_images(x, y, data, config=FAST, device="cpu")
    with pytest.raises(ValueError, match="'toy' for argument data"):
        audit_images(data.x_train[:6], data.y_train[:6], "toy", config=FAST, device="cpu")  # type: ignore[arg-type]
