import math

import numpy as np
import pytest

from albert_tf.activations import ACTIVATION_NAMES, get_activation
from tests.reference import gelu_tanh

POINTS = np.linspace(-6.0, 6.0, 97).astype("float64")


def test_gelu_is_the_tanh_approximation_of_the_original():
    actual = np.asarray(get_activation("gelu")(POINTS))
    np.testing.assert_allclose(actual, gelu_tanh(POINTS), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.asarray(get_activation("gelu_new")(POINTS)), actual)


def test_gelu_exact_uses_erf_and_differs_from_tanh_form():
    exact = np.array([0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))) for x in POINTS])
    actual = np.asarray(get_activation("gelu_exact")(POINTS))
    np.testing.assert_allclose(actual, exact, rtol=1e-6, atol=1e-9)
    assert np.abs(actual - gelu_tanh(POINTS)).max() > 1e-5


def test_unknown_activation_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown activation 'mish'; expected one of " +
                       ", ".join(ACTIVATION_NAMES)):
        get_activation("mish")
