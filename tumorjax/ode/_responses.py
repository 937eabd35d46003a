"""Growth laws and functional responses of seed 000 (each a pure function of arrays).

A law that is only defined for positive sizes (Gompertz, von Bertalanffy, Hill with a
non-integer exponent) is taken as zero at `T <= 0`: an extinct population neither grows
nor is killed.
"""

import jax.numpy as jnp

GROWTH_LAWS = ("exponential", "logistic", "gompertz")
KILLING = ("mass_action", "michaelis_menten", "hill")
PROLIFERATION = ("mass_action", "saturating")


def _positive(T):
    return T > 0, jnp.where(T > 0, T, 1.0)


def growth(law: str, T, r, K):
    r"""Tumour growth $dT/dt$ without immunity.

    - `exponential`: $rT$
    - `logistic`: $rT(1 - T/K)$
    - `gompertz`: $rT\ln(K/T)$
    """
    if law == "exponential":
        return r * T
    if law == "logistic":
        return r * T * (1 - T / K)
    if law == "gompertz":
        pos, Ts = _positive(T)
        return jnp.where(pos, r * Ts * jnp.log(K / Ts), 0.0)
    raise ValueError(f"unknown growth law {law!r}; choose from {GROWTH_LAWS}")


def bertalanffy(T, p, q, a, b):
    r"""von Bertalanffy growth $pT^a - qT^b$."""
    pos, Ts = _positive(T)
    return jnp.where(pos, p * Ts**a - q * Ts**b, 0.0)


def killing(kind: str, T, kappa, k, theta, m):
    r"""Per-effector kill rate $F(T)$ (the tumour loses $F(T)E$).

    - `mass_action` (Holling I): $\kappa T$
    - `michaelis_menten` (Holling II): $kT/(\theta + T)$
    - `hill` (Holling III): $kT^m/(\theta^m + T^m)$
    """
    if kind == "mass_action":
        return kappa * T
    if kind == "michaelis_menten":
        return k * T / (theta + T)
    if kind == "hill":
        pos, Ts = _positive(T)
        return jnp.where(pos, k / (1 + (theta / Ts) ** m), 0.0)
    raise ValueError(f"unknown killing {kind!r}; choose from {KILLING}")


def killing_slope_at_zero(kind: str, kappa, k, theta, m):
    r"""$F'(0)$, the per-effector kill rate per tumour cell of a vanishing tumour.

    Zero for a Hill response with $m > 1$: such a tumour can always invade.
    """
    if kind == "mass_action":
        return kappa
    if kind == "michaelis_menten":
        return k / theta
    if kind == "hill":
        return jnp.where(m == 1, k / theta, 0.0)
    raise ValueError(f"unknown killing {kind!r}; choose from {KILLING}")


def proliferation(kind: str, T, alpha, beta):
    r"""Per-effector proliferation rate stimulated by the tumour.

    - `mass_action`: $\alpha T$
    - `saturating` (Michaelis-Menten): $\alpha T/(\beta + T)$
    """
    if kind == "mass_action":
        return alpha * T
    if kind == "saturating":
        return alpha * T / (beta + T)
    raise ValueError(f"unknown proliferation {kind!r}; choose from {PROLIFERATION}")
