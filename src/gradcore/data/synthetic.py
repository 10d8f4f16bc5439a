"""Small synthetic problems: 2-D spirals and a teacher-student regression.

Both are deterministic given ``seed`` and need nothing beyond NumPy.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from ..backends import ACTIVATIONS, get_backend
from ._checks import check_choice, check_int, check_real, check_seed

__all__ = ["spirals", "teacher_student"]


def spirals(
    n_per_class: int = 200, classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals (the CS231n toy problem), one arm per class.

    Point ``j`` of class ``k`` sits at radius ``r = j / (n_per_class - 1)`` and angle
    ``t = 4k + 4r + N(0, noise²)`` (radians), i.e. ``(r sin t, r cos t)``.

    Parameters
    ----------
    n_per_class : int >= 1
        Points per class.
    classes : int >= 1
        Number of classes (spiral arms).
    noise : float >= 0
        Standard deviation of the Gaussian noise added to each point's angle.
    seed : int >= 0
        Seed of the NumPy ``default_rng`` that draws the noise.

    Returns
    -------
    X : ndarray, float64, shape ``[n_per_class * classes, 2]``
        Points, grouped by class (class 0 first; not shuffled).
    y : ndarray, int64, shape ``[n_per_class * classes]``
        Labels ``0 .. classes-1``.
    """
    owner = "spirals"
    n_per_class = check_int("n_per_class", n_per_class, 1, owner)
    classes = check_int("classes", classes, 1, owner)
    noise = check_real("noise", noise, 0.0, owner)
    rng = np.random.default_rng(check_seed(seed, owner=owner))
    X = np.empty((n_per_class * classes, 2))
    y = np.repeat(np.arange(classes), n_per_class)
    for k in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.normal(0, noise, n_per_class)
        X[k * n_per_class : (k + 1) * n_per_class] = np.c_[r * np.sin(t), r * np.cos(t)]
    return X, y.astype(np.int64)


def teacher_student(
    n: int,
    in_features: int,
    out_features: int = 1,
    hidden: Sequence[int] = (32,),
    activation: str = "tanh",
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Regression targets produced by a fixed, randomly drawn "teacher" MLP.

    The teacher has layer sizes ``(in_features, *hidden, out_features)``; every layer is
    ``h ← act(h @ W + b)`` with ``W [fan_in, fan_out]`` and ``b [fan_out]`` drawn from
    ``N(0, 1/fan_in)`` (so pre-activations keep roughly unit variance), ``act`` =
    ``activation`` on the hidden layers and the identity on the output layer. Inputs are
    ``N(0, 1)``; targets are the teacher's output plus ``N(0, noise²)`` noise.

    The teacher, the inputs and the noise come from three independent streams spawned from
    ``seed``, so the teacher depends only on ``seed`` and the architecture, and a smaller ``n``
    gives a prefix of a larger one (``X`` exactly; ``y`` up to the rounding of the BLAS matrix
    product, which may differ with the number of rows). For train and test data from the same
    teacher, generate ``n_train + n_test`` rows once and split them.

    Parameters
    ----------
    n : int >= 1
        Number of examples.
    in_features, out_features : int >= 1
        Input and output widths.
    hidden : sequence of int >= 1
        Hidden widths; ``()`` gives a linear teacher.
    activation : str
        Hidden activation, any of gradcore's (``"linear"``, ``"relu"``, ``"leaky_relu"``,
        ``"elu"``, ``"sigmoid"``, ``"tanh"``, ``"silu"``, ``"gelu"``), evaluated by the NumPy
        reference backend.
    noise : float >= 0
        Standard deviation of the Gaussian noise added to the targets.
    seed : int >= 0

    Returns
    -------
    X : ndarray, float64, shape ``[n, in_features]``
    y : ndarray, float64, shape ``[n, out_features]``
    """
    owner = "teacher_student"
    n = check_int("n", n, 1, owner)
    in_features = check_int("in_features", in_features, 1, owner)
    out_features = check_int("out_features", out_features, 1, owner)
    if isinstance(hidden, str) or not isinstance(hidden, Sequence | np.ndarray):
        raise TypeError(
            f"{owner}: hidden must be a sequence of integers >= 1 (e.g. (32,)), got "
            f"{type(hidden).__name__}"
        )
    hidden = tuple(check_int(f"hidden[{i}]", h, 1, owner) for i, h in enumerate(hidden))
    check_choice("activation", activation, ACTIVATIONS, owner=owner)
    noise = check_real("noise", noise, 0.0, owner)
    teacher_ss, input_ss, noise_ss = np.random.SeedSequence(check_seed(seed, owner=owner)).spawn(3)

    teacher_rng = np.random.default_rng(teacher_ss)
    sizes = (in_features, *hidden, out_features)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        scale = 1.0 / math.sqrt(fan_in)
        W = teacher_rng.normal(0.0, scale, size=(fan_in, fan_out))
        b = teacher_rng.normal(0.0, scale, size=fan_out)
        layers.append((W, b))

    X = np.random.default_rng(input_ss).standard_normal((n, in_features))
    act_forward = get_backend("numpy").act_forward  # the reference: the same data everywhere
    h = X
    for i, (W, b) in enumerate(layers):
        h = h @ W + b
        if i < len(layers) - 1:
            act_forward(h, activation, h)
    if noise > 0.0:
        h = h + np.random.default_rng(noise_ss).normal(0.0, noise, size=h.shape)
    return X, np.ascontiguousarray(h, dtype=np.float64)
