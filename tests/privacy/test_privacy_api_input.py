"""evaluate_private and audit_set check what a Python caller hands them (sitting 25's review)."""

import pytest

from condensekit.privacy.audit import AuditConfig, audit_set
from condensekit.privacy.evaluate import evaluate_private
from tests.core.vision.conftest import make_tiny_images


def test_evaluate_private_refuses_a_plain_string_of_models():
    data = make_tiny_images()
    with pytest.raises(ValueError, match=r"Invalid value 'cnn' for argument models\..*\['cnn'\]"):
        evaluate_private(data.x_train[:4], data.y_train[:4], data, models="cnn", runs=1, train_steps=1)


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ("numpy", None, "argument x: a ndarray"),
        (None, "float", "dtype torch.float32"),
    ],
)
def test_audit_set_checks_the_set_before_any_work(x, y, match):
    data = make_tiny_images()
    xs, ys = data.x_train[:4], data.y_train[:4]
    xs = xs.numpy() if x == "numpy" else xs
    ys = ys.float() if y == "float" else ys
    with pytest.raises(ValueError, match=match):
        audit_set(xs, ys, data, AuditConfig(attack="loss"), device="cpu")
