"""Local (per-voxel) reaction terms of Eqs. (1)-(7), i.e. the right-hand side of the ODE (9)-(15).

The operation order follows the author's code term by term (`compute_explicit_rhs` in
CARTmodel.cpp), so that the reference scheme reproduces it to round-off; the growth term carries
the code's guard, rho_C*C*T_A/(K_C + C + 1e-30).
"""

import jax.numpy as jnp

#: field order of every state array.
FIELDS = ("C", "E", "TA", "TB", "S", "A", "H")


def chi(A, p):
    """Chemotactic sensitivity chi_C(A) = chi_0/(1 + alpha_A A), Eq. (8)."""
    return p.chi_0 / (1.0 + p.alpha_A * A)


def reactions(u, p):
    r"""Reaction rates of the seven fields, Eqs. (9)-(15), with the code's operation order.

    `u` has the fields on its leading axis, shape `(7, ...)`; returns the same shape.
    """
    C, E, TA, TB, S, A, H = (u[i] for i in range(7))
    ke = p.k_e0 * (1.0 + p.beta_A * A + p.beta_H * H)
    muab = p.mu_0 + p.nu * C
    muba = p.mu_1 * jnp.exp(-p.xi * C)
    fH = H / (p.K_H + H)
    pr_eff = p.p_r / (1.0 + A)
    growth_C = p.rho_C * (C * TA) / (p.K_C + C + 1e-30)
    kill_C = p.delta_CT * C * TA
    dC = growth_C - kill_C - ke * C + pr_eff * E - p.d_C * C
    dE = ke * C - pr_eff * E - p.d_E * E
    logistic = p.r_T * (1.0 - (TA + TB) / p.K_T)
    dTA = logistic * TA - p.gamma * C * TA - muab * TA + muba * TB - p.d_TA * TA
    dTB = logistic * TB + muab * TA - muba * TB - p.d_TB * TB
    dS = p.sigma_S * TA - p.lambda_S * S
    dA = p.sigma_A * (TA + TB) + p.sigma_M * fH - p.lambda_A * A
    dH = p.eta * (TA + TB) - p.lambda_H * H
    return jnp.stack([dC, dE, dTA, dTB, dS, dA, dH])
