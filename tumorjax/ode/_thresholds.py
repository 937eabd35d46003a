"""Closed-form thresholds of the tumour-effector model (seed 000, "The Invasion Threshold").

All are pure JAX functions of the parameters, so they vmap over parameter sets and
differentiate (e.g. d u_min / d r).
"""

import jax.numpy as jnp

from ._responses import killing_slope_at_zero
from ._tumour_effector import TumourEffector, TumourEffectorParams


def tumour_free_effectors(p: TumourEffectorParams):
    r"""Effector level of the tumour-free equilibrium, the root of $s + u - \delta E - \gamma E^2$.

    $E_0 = 2(s+u)/(\delta + \sqrt{\delta^2 + 4\gamma(s+u)})$, which is $(s+u)/\delta$ when $\gamma = 0$.
    """
    source = p.s + p.u
    return 2 * source / (p.delta + jnp.sqrt(p.delta**2 + 4 * p.gamma * source))


def _growth_slope(model: TumourEffector, p: TumourEffectorParams):
    if model.growth == "gompertz":
        raise ValueError("Gompertz growth has an infinite per-capita rate at T = 0: no invasion threshold")
    return p.r


def invasion_exponent(model: TumourEffector, p: TumourEffectorParams):
    r"""$\lambda_1 = G'(0) - F'(0)E_0$, the tumour-free state's critical eigenvalue.

    For logistic growth and mass-action killing, $\lambda_1 = r - \kappa s/\delta$. A small
    tumour invades (the tumour-free state is unstable) iff $\lambda_1 > 0$.
    """
    return _growth_slope(model, p) - killing_slope_at_zero(model.killing, p.kappa, p.k, p.theta, p.m) * tumour_free_effectors(p)


def tumour_reproduction_number(model: TumourEffector, p: TumourEffectorParams):
    r"""$R_T = G'(0)/(F'(0)E_0)$; equals $r\delta/(\kappa s)$ in the seed's model. Invasion iff $R_T > 1$."""
    slope = killing_slope_at_zero(model.killing, p.kappa, p.k, p.theta, p.m)
    return _growth_slope(model, p) / (slope * tumour_free_effectors(p))


def minimum_dose(model: TumourEffector, p: TumourEffectorParams):
    r"""The smallest constant infusion $u$ that makes the tumour-free state locally stable.

    Stability needs $E_0 > E^\ast = G'(0)/F'(0)$; with $E_0$ the root of
    $s + u - \delta E - \gamma E^2$ this gives $u_{min} = \max(0, \delta E^\ast + \gamma E^{\ast 2} - s)$,
    which is the seed's $u_{min} = \max(0, r\theta\delta/k - \sigma)$ for Michaelis-Menten killing.
    Infinite for a Hill response with $m > 1$. Does not depend on `p.u`. Local only: with
    saturating killing the system is bistable just above $u_{min}$ (a saddle separates
    elimination from escape), so a large enough tumour still escapes.
    """
    slope = killing_slope_at_zero(model.killing, p.kappa, p.k, p.theta, p.m)
    E_star = _growth_slope(model, p) / jnp.where(slope > 0, slope, 1.0)
    return jnp.where(slope > 0, jnp.maximum(0.0, p.delta * E_star + p.gamma * E_star**2 - p.s), jnp.inf)


def peak_stimulation(p: TumourEffectorParams):
    r"""Tumour size maximising the biphasic effector growth $g(T) = \alpha T/(\beta+T) - \delta - \varepsilon T$.

    $T_{peak} = \sqrt{\alpha\beta/\varepsilon} - \beta$ (saturating proliferation, $\varepsilon > 0$):
    the immune response is strongest at an intermediate tumour burden.
    """
    return jnp.maximum(0.0, jnp.sqrt(p.alpha * p.beta / p.eps) - p.beta)
