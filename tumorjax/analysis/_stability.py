"""Jacobians, eigenvalues and stability of equilibria."""

import jax
import jax.numpy as jnp
import numpy as np


def jacobian(model, params, y, t=0.0):
    """The Jacobian d f / d y of `model.vector_field` at `y`, by forward-mode autodiff."""
    return jax.jacfwd(lambda x: model.vector_field(t, x, params))(jnp.asarray(y))


def eigenvalues(J) -> np.ndarray:
    """Eigenvalues of one Jacobian, on the host.

    `jnp.linalg.eig` of a non-symmetric matrix has no GPU implementation, so this runs in
    NumPy; inside jitted or vmapped code use [`tumorjax.analysis.is_stable`][] instead.
    """
    return np.linalg.eigvals(np.asarray(J, dtype=float))


def is_stable(J):
    r"""Whether all eigenvalues of `J` have negative real part, by the Routh-Hurwitz test.

    Pure JAX (jit-, vmap- and GPU-safe) for 1x1, 2x2 and 3x3 Jacobians; batched over
    leading axes. For $n = 3$ with characteristic polynomial
    $\lambda^3 + a_1\lambda^2 + a_2\lambda + a_3$: $a_1 > 0$, $a_3 > 0$, $a_1a_2 > a_3$.
    """
    n = J.shape[-1]
    tr = jnp.trace(J, axis1=-2, axis2=-1)
    det = jnp.linalg.det(J)
    if n == 1:
        return J[..., 0, 0] < 0
    if n == 2:
        return (tr < 0) & (det > 0)
    if n == 3:
        minors = (
            J[..., 0, 0] * J[..., 1, 1] - J[..., 0, 1] * J[..., 1, 0]
            + J[..., 0, 0] * J[..., 2, 2] - J[..., 0, 2] * J[..., 2, 0]
            + J[..., 1, 1] * J[..., 2, 2] - J[..., 1, 2] * J[..., 2, 1]
        )
        a1, a2, a3 = -tr, minors, -det
        return (a1 > 0) & (a3 > 0) & (a1 * a2 > a3)
    raise ValueError(f"is_stable has closed forms up to 3x3; got {n}x{n}: use eigenvalues() on the host")


def classify(eigs, tol: float = 1e-10) -> str:
    """Name an equilibrium from its eigenvalues: stable/unstable node or focus, saddle, non-hyperbolic."""
    eigs = np.asarray(eigs)
    re = eigs.real
    scale = max(1.0, float(np.max(np.abs(eigs))))
    if np.any(np.abs(re) <= tol * scale):
        return "non-hyperbolic"
    oscillatory = np.any(np.abs(eigs.imag) > tol * scale)
    if np.all(re < 0):
        return "stable focus" if oscillatory else "stable node"
    if np.all(re > 0):
        return "unstable focus" if oscillatory else "unstable node"
    return "saddle"
