"""Domain-free matching objectives: pure functions, tensors in, differentiable loss out.

A method's loss is a weighted sum of these, e.g.
``dc_distance(g_syn, g_real) + 0.1 * mmd2(h_syn, h_real, kernel=gaussian_kernel(1.0))``.
"""

from __future__ import annotations

from .curvature import (
    CurvatureRegularizer,
    curvature_gap,
    input_curvature,
    parameter_curvature,
    unit_direction,
)
from .distribution import (
    DISTRIBUTION_DISTANCES,
    FourierFeatureMap,
    Kernel,
    average_hausdorff,
    classwise_mean_embedding_distance,
    distribution_distance,
    gaussian_kernel,
    hausdorff,
    linear_kernel,
    mean_embedding_distance,
    mmd2,
    multi_bandwidth_kernel,
    random_fourier_features,
    rff_map,
    rff_mmd2,
    sliced_wasserstein,
)
from .gradient import (
    GRADIENT_METRICS,
    dc_distance,
    gradient_cosine,
    gradient_distance,
    gradient_mse,
    relative_gradient_mse,
)
from .trajectory import flat_params, param_distance, student_batches, unflatten, unroll_student

__all__ = [
    # curvature
    "CurvatureRegularizer",
    "curvature_gap",
    "input_curvature",
    "parameter_curvature",
    "unit_direction",
    # gradient matching
    "GRADIENT_METRICS",
    "dc_distance",
    "gradient_cosine",
    "gradient_distance",
    "gradient_mse",
    "relative_gradient_mse",
    # distribution matching
    "DISTRIBUTION_DISTANCES",
    "FourierFeatureMap",
    "Kernel",
    "average_hausdorff",
    "distribution_distance",
    "gaussian_kernel",
    "hausdorff",
    "linear_kernel",
    "classwise_mean_embedding_distance",
    "mean_embedding_distance",
    "mmd2",
    "multi_bandwidth_kernel",
    "random_fourier_features",
    "rff_map",
    "rff_mmd2",
    "sliced_wasserstein",
    # trajectory matching
    "flat_params",
    "param_distance",
    "student_batches",
    "unflatten",
    "unroll_student",
]
