"""The spatially homogeneous ODE (3.1) of seed 004: equilibria, eigenvalues, Hopf test."""

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ..core import ODEModel
from ._params import OncolyticODEParams


class OncolyticODE(ODEModel):
    """Uninfected (u) and infected (i) tumour cells and immune cells (z), Eq. (3.1); cells/mm^2, hours."""

    state_names: ClassVar = ("u", "i", "z")
    params_class: ClassVar = OncolyticODEParams
    time_units: ClassVar = "h"

    def vector_field(self, t, y, p: OncolyticODEParams):
        u, i, z = y[0], y[1], y[2]
        return jnp.stack([
            p.p * u * (1 - (u + i) / p.K) - p.beta / p.K * u * i - p.zeta / p.K * u * z,
            p.beta / p.K * u * i - p.q * i - p.zeta / p.K * i * z,
            p.alpha * i - p.q_z * z + p.S0,
        ])

    def state_scale(self, p: OncolyticODEParams):
        return jnp.stack([p.K, p.K, p.K])


def ode_equilibria(p: OncolyticODEParams) -> dict[str, jnp.ndarray]:
    r"""The three equilibria of (3.1) that can be non-negative, in closed form (Sec. 3).

    - `tumour_free`: $(0, 0, S_0/q_z)$;
    - `infection_free`: $(K - \zeta S_0/(pq_z), 0, S_0/q_z)$;
    - `coexistence`: $(u^*, i^*, z^*)$ of Eq. (3.2),
      $i^* = \frac{Kpq_z(\beta-q) - S_0\beta(\zeta + p\zeta/\beta)}{\beta[q_z(\beta+p) + \alpha(\zeta+p\zeta/\beta)]}$,
      $z^* = (\alpha i^* + S_0)/q_z$, $u^* = (qK + \zeta z^*)/\beta$.

    The fourth equilibrium $(0, -qq_zK/(\alpha\zeta) - S_0/\alpha, -qK/\zeta)$ is always negative and is
    left out. Whether an equilibrium is admissible (non-negative) is for the caller to check.
    """
    z0 = p.S0 / p.q_z
    zp = p.zeta + p.p * p.zeta / p.beta
    i_star = (p.K * p.p * p.q_z * (p.beta - p.q) - p.S0 * p.beta * zp) / (
        p.beta * (p.q_z * (p.beta + p.p) + p.alpha * zp))
    z_star = p.alpha / p.q_z * i_star + z0
    u_star = p.q * p.K / p.beta + p.zeta / p.beta * z_star
    zero = jnp.zeros_like(z0)
    return {
        "tumour_free": jnp.stack([zero, zero, z0]),
        "infection_free": jnp.stack([p.K - p.zeta * p.S0 / (p.p * p.q_z), zero, z0]),
        "coexistence": jnp.stack([u_star, i_star, z_star]),
    }


def ode_trivial_eigenvalues(p: OncolyticODEParams) -> dict[str, jnp.ndarray]:
    r"""Closed-form eigenvalues at the tumour-free and infection-free equilibria (Sec. 3).

    Tumour-free: $(-q_z,\ p - S_0\zeta/(Kq_z),\ -q - S_0\zeta/(Kq_z))$, stable iff $Kpq_z < S_0\zeta$.
    Infection-free: $(-q_z,\ -p + S_0\zeta/(Kq_z),\ \beta - q - S_0(\beta\zeta + p\zeta)/(Kpq_z))$.
    """
    kill = p.S0 * p.zeta / (p.K * p.q_z)
    return {
        "tumour_free": jnp.stack([-p.q_z, p.p - kill, -p.q - kill]),
        "infection_free": jnp.stack([-p.q_z, -p.p + kill,
                                     p.beta - p.q - p.S0 * (p.beta * p.zeta + p.p * p.zeta) / (p.K * p.p * p.q_z)]),
    }


def hopf_test(p: OncolyticODEParams) -> jnp.ndarray:
    r"""The Routh-Hurwitz Hopf test function $a_1a_2 - a_3$ at the coexistence equilibrium.

    With $\det(\lambda I - J) = \lambda^3 + a_1\lambda^2 + a_2\lambda + a_3$ and $a_1, a_3 > 0$, the
    equilibrium is stable where the test is positive, and a pair of eigenvalues crosses the
    imaginary axis (a Hopf point) where it changes sign. Differentiable and jit/vmap-safe.
    """
    y = ode_equilibria(p)["coexistence"]
    J = jax.jacfwd(lambda y: OncolyticODE().vector_field(0.0, y, p))(y)
    a1 = -jnp.trace(J)
    a2 = (J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0] + J[0, 0] * J[2, 2] - J[0, 2] * J[2, 0]
          + J[1, 1] * J[2, 2] - J[1, 2] * J[2, 1])
    a3 = -jnp.linalg.det(J)
    return a1 * a2 - a3


def ode_hopf_point(p: OncolyticODEParams, name: str, bracket: tuple[float, float], *, iterations: int = 100):
    """The value of parameter `name` in `bracket` where `hopf_test` changes sign (bisection).

    Raises a `ValueError` for an unknown parameter name or a bracket without a sign change.
    Fig. 2 of seed 004 has one Hopf point each in alpha, zeta and beta.
    """
    if name not in p.names():
        raise ValueError(f"OncolyticODEParams has no parameter {name!r}; it has {', '.join(p.names())}")
    lo, hi = (float(b) for b in bracket)
    f = jax.jit(lambda v: hopf_test(p.replace(**{name: v})))
    f_lo, f_hi = float(f(lo)), float(f(hi))
    if not (np.isfinite(f_lo) and np.isfinite(f_hi)) or np.sign(f_lo) == np.sign(f_hi):
        raise ValueError(f"no Hopf point of {name} in [{lo}, {hi}]: the Hopf test is {f_lo:.3g} and {f_hi:.3g} "
                         "at the ends (it must change sign)")

    def bisect(_, ab):
        a, b = ab
        m = 0.5 * (a + b)
        same = jnp.sign(f(m)) == jnp.sign(f_lo)
        return jnp.where(same, m, a), jnp.where(same, b, m)

    a, b = jax.lax.fori_loop(0, iterations, bisect, (jnp.asarray(lo), jnp.asarray(hi)))
    return 0.5 * (a + b)
