"""Stability tools: Routh-Hurwitz against eigenvalues, classification, autodiff Jacobians."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tumorjax as tj
from tumorjax.analysis import classify, find_equilibria, is_stable, jacobian


@pytest.mark.parametrize("n", [1, 2, 3])
def test_routh_hurwitz_agrees_with_eigenvalues(n):
    J = np.random.default_rng(n).normal(size=(2000, n, n))
    expected = np.all(np.linalg.eigvals(J).real < 0, axis=-1)
    got = np.asarray(jax.jit(jax.vmap(is_stable))(jnp.asarray(J)))
    assert got.mean() > 0.05 and (~got).mean() > 0.05  # both cases present
    np.testing.assert_array_equal(got, expected)


def test_is_stable_rejects_large_matrices():
    with pytest.raises(ValueError, match="up to 3x3"):
        is_stable(jnp.eye(4))


@pytest.mark.parametrize("eigs, kind", [
    ([-1, -2], "stable node"), ([-1 + 2j, -1 - 2j], "stable focus"), ([1, -2], "saddle"),
    ([1 + 1j, 1 - 1j], "unstable focus"), ([1, 2], "unstable node"), ([0, -1], "non-hyperbolic"),
])
def test_classify(eigs, kind):
    assert classify(np.array(eigs, dtype=complex)) == kind


def test_jacobian_matches_finite_differences():
    model = tj.TumourEffector(killing="hill")
    p = model.default_params()
    y = jnp.array([3e7, 5e5])
    J = np.asarray(jacobian(model, p, y))
    h = np.array([1e3, 10.0])  # ~3e-5 and 2e-5 of the state: balances truncation and round-off
    fd = np.stack([(np.asarray(model.vector_field(0.0, y + h[i] * np.eye(2)[i], p))
                    - np.asarray(model.vector_field(0.0, y - h[i] * np.eye(2)[i], p))) / (2 * h[i]) for i in range(2)], 1)
    np.testing.assert_allclose(J, fd, rtol=1e-6)


def test_bad_starts_shape():
    with pytest.raises(ValueError, match=r"starts must have shape \(n, 2\)"):
        find_equilibria(tj.TumourEffector(), starts=np.ones((5, 3)))
