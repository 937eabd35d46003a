"""Gradients of the final tumour burden through the 3D solver (checkpointed scan) against central
differences (float64, 4^3 grid, normalised parameters, a second dose half-way)."""

import jax
import jax.numpy as jnp
import numpy as np

from tumorjax.cart import NORMALISED, NORMALISED_INITIAL, CARTNumerics, tumour_burden

NUM = CARTNumerics(nx=4, ny=4, nz=4, T=1.0, dt=0.05, diff_iters=10, diff_tol=0.0)
INIT = NORMALISED_INITIAL.replace(cart_layer=0.4, tumor_radius=0.35, cart_radius=0.3, dose2=0.05, t_dose2=0.5)


def _burden(x):
    p = NORMALISED.replace(rho_C=x[0], k_e0=x[1], chi_0=x[2])
    return tumour_burden(p, INIT.replace(dose2=x[3]), NUM, "reference")


def test_grad_matches_central_differences():
    x0 = jnp.array([0.55, 0.05, 0.1, 0.05])  # rho_C, k_e0, chi_0, dose2
    g = np.asarray(jax.jit(jax.grad(_burden))(x0))
    f = jax.jit(_burden)
    fd = []
    for i in range(4):
        e = np.zeros(4)
        e[i] = 1e-4 * float(x0[i])
        fd.append((f(x0 + e) - f(x0 - e)) / (2 * e[i]))
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    assert g[0] < 0 and g[3] < 0 and g[1] > 0  # more expansion or dose: less tumour; more exhaustion: more
